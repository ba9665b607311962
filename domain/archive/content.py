"""What the archive's use cases need from content storage and from the cloud platform, as ports
(implemented in infrastructure/archive/), and the bounded reads every intake shares: the
application and the adapters both speak these, so neither imports the other."""
from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

CHUNK = 1 << 20


class BlobTooLargeError(Exception):
    def __init__(self, limit: int):
        super().__init__(f"the file exceeds the limit of {limit} bytes")
        self.limit = limit


class EmptyBlobError(Exception):
    pass


@dataclass(frozen=True)
class StagedBlob:
    """Content streamed to a temporary file, hashed and measured, not yet committed."""

    path: Path
    sha256: str
    size: int
    head: bytes   # the first bytes, for media-type sniffing


class BlobStore(Protocol):
    def stage(self, chunks: Iterable[bytes], limit: int) -> StagedBlob: ...

    def commit(self, staged: StagedBlob) -> bool: ...

    def discard(self, staged: StagedBlob) -> None: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None: ...

    def hashes(self) -> Iterator[str]: ...

    def lock(self, sha256: str) -> AbstractContextManager[None]: ...


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk


class CloudBatchError(ValueError):
    pass


MAX_MANIFEST_BYTES = 10 * 1_048_576
MAX_MANIFEST_RATIO = 100


def read_member(zf: zipfile.ZipFile, name: str, cap: int = MAX_MANIFEST_BYTES,
                max_ratio: int = MAX_MANIFEST_RATIO) -> bytes:
    """A small member (a manifest) read whole, but never past ``cap`` bytes and never when its
    central-directory entry already says it is a bomb. KeyError when it is not there."""
    info = zf.getinfo(name)
    if info.file_size > cap:
        raise CloudBatchError(f"{name} expands to {info.file_size} bytes; at most {cap} are accepted")
    if info.compress_size and info.file_size / info.compress_size > max_ratio:
        raise CloudBatchError(f"{name} is compressed {info.file_size // info.compress_size}:1, above the "
                              f"{max_ratio}:1 limit (a zip bomb?)")
    try:
        with zf.open(info) as stream:
            data = stream.read(cap + 1)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
        raise CloudBatchError(f"{name} cannot be read: {exc}") from None
    if len(data) > cap:
        raise CloudBatchError(f"{name} is larger than its zip entry declares")
    return data


class CloudBatch(Protocol):
    batch_id: str
    business_line: str
    source: str

    def entries(self) -> list[dict[str, Any]]: ...

    def open(self, name: str) -> BinaryIO | None: ...
