"""Adapter for the monitoring centre's cloud platform (监控中心云平台). No public interface spec
exists (shared/guide/integrations.md), so a batch is what the platform's export gives us: a
folder (or zip) with ``manifest.json`` and the files it lists:

    {"batch_id": "CFMMC-20261121-001", "business_line": "brokerage",
     "files": [{"file": "88001234_20261121_11.jpg", "sha256": "...", "fund_account": "88001234",
                "customer": "88001234", "category": "head_photo"}]}

An HTTP adapter for a real platform implements the same ``CloudBatch`` protocol."""
from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from domain.archive.content import MAX_MANIFEST_BYTES, CloudBatch, CloudBatchError, read_member

MAX_ENTRIES = 10_000
BATCH_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")
LINE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def _parse(raw: bytes, source: str) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise CloudBatchError(f"{source}: manifest.json is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list) or not manifest.get("batch_id"):
        raise CloudBatchError(f"{source}: manifest.json needs batch_id and a files list")
    if not isinstance(manifest["batch_id"], str) or not BATCH_ID.match(manifest["batch_id"]):
        raise CloudBatchError(f"{source}: batch_id is 1 to 100 letters, digits, '.', '_', ':' or '-'")
    if not isinstance(manifest.get("business_line", ""), str) or (
            manifest.get("business_line") and not LINE.match(manifest["business_line"])):
        raise CloudBatchError(f"{source}: business_line is a lower-case code")
    if len(manifest["files"]) > MAX_ENTRIES:
        raise CloudBatchError(f"{source}: manifest.json lists {len(manifest['files'])} files; "
                              f"at most {MAX_ENTRIES} per batch")
    return manifest


def _safe(name: str) -> bool:
    path = PurePosixPath(str(name).replace("\\", "/"))
    return bool(name) and not path.is_absolute() and ".." not in path.parts


class FolderCloudBatch:
    def __init__(self, root: Path):
        self.root = root.resolve()
        manifest_path = self.root / "manifest.json"
        if not manifest_path.exists():
            raise CloudBatchError(f"{root} has no manifest.json")
        if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
            raise CloudBatchError(f"{root}: manifest.json is larger than {MAX_MANIFEST_BYTES} bytes")
        self._manifest = _parse(manifest_path.read_bytes(), str(root))
        self.batch_id = str(self._manifest["batch_id"])
        self.business_line = str(self._manifest.get("business_line", ""))
        self.source = f"folder:{root.name}"

    def entries(self) -> list[dict[str, Any]]:
        return [e for e in self._manifest["files"] if isinstance(e, dict)]

    def open(self, name: str) -> BinaryIO | None:
        if not _safe(name):
            return None
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path.open("rb")


class ZipCloudBatch:
    def __init__(self, path: Path):
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError):
            raise CloudBatchError(f"{path.name} is not a zip with a manifest.json") from None
        try:
            raw = read_member(self._zip, "manifest.json")
            self._manifest = _parse(raw, path.name)
        except KeyError:
            self._zip.close()
            raise CloudBatchError(f"{path.name} is not a zip with a manifest.json") from None
        except BaseException:
            self._zip.close()
            raise
        self.batch_id = str(self._manifest["batch_id"])
        self.business_line = str(self._manifest.get("business_line", ""))
        self.source = f"zip:{path.name}"

    def entries(self) -> list[dict[str, Any]]:
        return [e for e in self._manifest["files"] if isinstance(e, dict)]

    def open(self, name: str) -> BinaryIO | None:
        if not _safe(name):
            return None
        try:
            return self._zip.open(name)  # type: ignore[return-value]
        except KeyError:
            return None


@contextmanager
def open_batch(path: Path) -> Iterator[CloudBatch]:
    batch: CloudBatch = FolderCloudBatch(path) if path.is_dir() else ZipCloudBatch(path)
    try:
        yield batch
    finally:
        if isinstance(batch, ZipCloudBatch):
            batch._zip.close()
