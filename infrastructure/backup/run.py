"""Making a backup and restoring one, in the order that keeps them consistent (ADR 0030)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from domain.archive.content import BlobStore
from infrastructure.archive.blobs import _fsync_dir
from infrastructure.backup import BackupError
from infrastructure.backup.files import ANCHORS, dump_anchors, dump_blobs, load_anchors, load_blobs
from infrastructure.backup.manifest import Manifest, Progress, fingerprint, manifest_key, new_salt
from infrastructure.backup.tables import dump_tables, load_tables


@dataclass(frozen=True)
class Source:
    """Where a backup reads from and which settings it records."""
    database_url: str
    events_table: str
    read_models: Collection[str]  # tables left out: rebuilt by projections, or no source of truth
    blobs: BlobStore | None  # None: the blob store is backed up by other means (S3 versioning)
    anchors: Path | None
    settings: Mapping[str, Any]  # recorded as they are: no secrets here
    keys: Mapping[str, bytes | None]  # only their fingerprints are recorded
    schema: str = "public"


# The key (in ``keys``) the manifest's MAC key is derived from.
MAC_KEY = "audit_chain_key"


def _mac_key(keys: Mapping[str, bytes | None]) -> bytes:
    key = keys.get(MAC_KEY)
    if not key:
        raise BackupError(f"{MAC_KEY} is not set: a backup's manifest is authenticated with it")
    return manifest_key(key)


def make_backup(dest: Path, source: Source, progress: Progress | None = None) -> Manifest:
    """Write the backup to ``dest`` (absent or an empty directory). It is written beside it as
    ``<dest>.partial`` and renamed when complete, so a directory named ``dest`` is always whole."""
    mac_key = _mac_key(source.keys)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty directory")
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # an interrupted earlier attempt
    partial.mkdir(mode=0o700, parents=True)
    files: dict[str, dict[str, Any]] = {}
    anchors = dump_anchors(source.anchors, partial, files)  # before the snapshot: see dump_anchors
    dump = dump_tables(source.database_url, partial, schema=source.schema, events_table=source.events_table,
                       read_models=source.read_models, progress=progress)
    files.update(dump.files)
    blobs = (dump_blobs(source.blobs, partial, files, progress) if source.blobs is not None
             else {"included": False, "reason": "the blob store is backed up by its own versioning/replication"})
    salt = new_salt()
    manifest = Manifest(
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), head_position=dump.head,
        settings=dict(source.settings), tables=dump.tables, excluded_tables=dump.excluded,
        keys={name: fingerprint(key, salt) for name, key in sorted(source.keys.items()) if key is not None},
        salt=salt, files=files, blobs=blobs, anchors=anchors)
    manifest.write(partial, mac_key)
    if dest.exists():
        dest.rmdir()
    os.replace(partial, dest)
    _fsync_dir(dest.parent)
    return manifest


def check_backup(src: Path, *, events_table: str, keys: Mapping[str, bytes | None],
                 progress: Progress | None = None) -> Manifest:
    """Everything a restore refuses on, checked before anything is written."""
    manifest = Manifest.read(src)
    if manifest.settings.get("events_table") != events_table:
        raise BackupError(f"the backup's event store table is {manifest.settings.get('events_table')!r}, this "
                          f"installation's is {events_table!r} (LEDGERFLOW_EVENTS_TABLE)")
    manifest.check_keys(keys)  # first: another key is named precisely, not as a MAC mismatch
    manifest.check_mac(_mac_key(keys))
    manifest.check_paths()
    if manifest.anchors.get("included") and manifest.anchors.get("file") != ANCHORS:
        raise BackupError(f"the backup's anchors file must be {ANCHORS}")
    manifest.verify_files(src, progress)
    return manifest


def restore_backup(src: Path, manifest: Manifest, *, database_url: str, events_table: str, blobs: BlobStore,
                   anchors: Path | None, force: bool = False, schema: str = "public",
                   progress: Progress | None = None) -> dict[str, int]:
    """Load a checked backup: tables in one transaction, then blobs, then anchors."""
    with_anchors = bool(manifest.anchors.get("included"))
    if with_anchors and anchors is None:
        raise BackupError("the backup holds an anchors file, but LEDGERFLOW_AUDIT_ANCHOR names no local file here")
    if with_anchors and anchors is not None and anchors.exists() and anchors.stat().st_size and not force:
        raise BackupError(f"{anchors} already holds anchors: restore into a fresh data directory, or pass --force")
    rows = load_tables(database_url, src, manifest, schema=schema, events_table=events_table, force=force,
                       progress=progress)
    count = load_blobs(blobs, src, manifest, progress)
    if with_anchors and anchors is not None:
        load_anchors(src, anchors)
    return {"rows": rows, "blobs": count}
