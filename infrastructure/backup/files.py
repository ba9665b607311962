"""Files into and out of a backup: the archive's blobs (through the BlobStore port, so a local
directory and an S3 bucket are copied alike) and the audit anchors file."""
from __future__ import annotations

import hashlib
import os
from contextlib import closing
from pathlib import Path
from typing import Any

from domain.archive.content import BlobStore, read_chunks
from infrastructure.backup import BackupError
from infrastructure.backup.manifest import HashingWriter, Manifest, Progress

ANCHORS = "audit/anchors.jsonl"
_NO_LIMIT = 1 << 62


def blob_name(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def dump_blobs(blobs: BlobStore, root: Path, files: dict[str, dict[str, Any]],
               progress: Progress | None = None) -> dict[str, Any]:
    """Copy every blob, re-hashing it on the way: content whose hash no longer matches its
    address is left out and named (``ledgerflow archive scan`` reports the same)."""
    hashes = list(blobs.hashes())
    corrupted, vanished, size = [], [], 0
    for done, sha256 in enumerate(hashes, 1):
        path = root / blob_name(sha256)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            with closing(blobs.open(sha256)) as source, path.open("wb") as raw:
                hashed = HashingWriter(raw)
                for chunk in read_chunks(source):
                    hashed.write(chunk)
                raw.flush()
                os.fsync(raw.fileno())
        except FileNotFoundError:  # purged (retention) between the listing and the copy
            path.unlink(missing_ok=True)
            vanished.append(sha256)
            continue
        entry = hashed.entry()
        if entry["sha256"] != sha256:
            path.unlink()
            corrupted.append(sha256)
            continue
        files[blob_name(sha256)] = entry
        size += entry["bytes"]
        if progress:
            progress("blobs", done, len(hashes))
    return {"included": True, "count": len(hashes) - len(corrupted) - len(vanished), "bytes": size,
            "corrupted_in_source": corrupted, "vanished_during_backup": vanished}


def load_blobs(blobs: BlobStore, root: Path, manifest: Manifest, progress: Progress | None = None) -> int:
    names = sorted(n for n in manifest.files if n.startswith("blobs/"))
    for done, name in enumerate(names, 1):
        with (root / name).open("rb") as stream:
            staged = blobs.stage(read_chunks(stream), _NO_LIMIT)
        if staged.sha256 != name.rsplit("/", 1)[-1]:  # verified before; changed since
            blobs.discard(staged)
            raise BackupError(f"{name} changed while it was restored")
        blobs.commit(staged)
        if progress:
            progress("blobs", done, len(names))
    return len(names)


def dump_anchors(source: Path | None, root: Path, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Copy the anchors file's complete lines. Called before the database snapshot is taken, so
    every checkpoint copied names a position the snapshot holds: a restore's `audit verify`
    must not report the events after the snapshot as truncated."""
    if source is None or not source.is_file():
        return {"included": False, "source": str(source) if source else None}
    data = source.read_bytes()
    data = data[: data.rfind(b"\n") + 1]  # a line being appended right now is left for the next backup
    target = root / ANCHORS
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.write_bytes(data)
    files[ANCHORS] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return {"included": True, "source": str(source), "file": ANCHORS, "lines": data.count(b"\n")}


def load_anchors(root: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    data = (root / ANCHORS).read_bytes()
    with target.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
