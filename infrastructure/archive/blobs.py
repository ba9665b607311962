"""Blob stores for archive content, addressed by SHA-256 (identical content is stored once).

The filesystem store streams into a temporary file under the data directory while hashing and
counting, fsyncs it, renames it atomically to ``blobs/<aa>/<bb>/<sha256>`` and fsyncs the
directory, so a crash leaves either the whole blob or nothing under its final name."""
from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from domain.archive.content import BlobTooLargeError, EmptyBlobError, StagedBlob, read_chunks

SHA256_HEX = frozenset("0123456789abcdef")


def valid_hash(sha256: str) -> bool:
    return len(sha256) == 64 and set(sha256) <= SHA256_HEX


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemBlobStore:
    STALE_TMP_SECONDS = 24 * 3600

    def __init__(self, root: Path):
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.sweep_tmp()

    def sweep_tmp(self, older_than: float | None = None) -> int:
        """Remove staging leftovers (``upload-*``, ``bulk-*``, export folders) a crash left
        behind; only files untouched for a day, so a running upload is never hit."""
        limit = time.time() - (self.STALE_TMP_SECONDS if older_than is None else older_than)
        removed = 0
        for path in self.tmp.glob("*"):
            try:
                if path.is_file() and not path.is_symlink() and path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed

    def path(self, sha256: str) -> Path:
        if not valid_hash(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def stage(self, chunks: Iterable[bytes], limit: int) -> StagedBlob:
        digest, size, head = hashlib.sha256(), 0, b""
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise BlobTooLargeError(limit)
                    if len(head) < 8192:
                        head += chunk[: 8192 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise EmptyBlobError("the file is empty (0 bytes)")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return StagedBlob(path, digest.hexdigest(), size, head)

    def commit(self, staged: StagedBlob) -> bool:
        """Move the staged file to its content address; False when that content was already stored."""
        final = self.path(staged.sha256)
        # A stored copy whose content no longer matches its address (corrupted) is replaced by
        # the freshly verified one; an intact one is kept.
        if final.exists() and _file_sha256(final) == staged.sha256:
            staged.path.unlink(missing_ok=True)
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, final)
        _fsync_dir(final.parent)
        return True

    def discard(self, staged: StagedBlob) -> None:
        staged.path.unlink(missing_ok=True)

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def delete(self, sha256: str) -> None:
        path = self.path(sha256)
        path.unlink(missing_ok=True)
        if path.parent.exists():
            _fsync_dir(path.parent)

    @contextmanager
    def lock(self, sha256: str) -> Iterator[None]:
        """Exclusive lock on one content address (``flock`` on ``blobs/locks/<aa>/<sha256>``, so
        it holds across processes on this host). An upload holds it from committing the blob to
        saving its event, a purge from its reference check to the delete: a purge never deletes
        content that a concurrent upload has just reused."""
        path = self.root / "locks" / sha256[:2] / self.path(sha256).name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def hashes(self) -> Iterator[str]:
        for path in sorted(self.root.glob("??/??/*")):
            if valid_hash(path.name):
                yield path.name


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in read_chunks(stream):
            digest.update(chunk)
    return digest.hexdigest()
