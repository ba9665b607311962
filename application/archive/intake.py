"""Intake of uploaded content: filename first (refused before a byte is stored), then stream to a
staged blob with the size limit, sniff, check the type; only accepted content is committed."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from application.archive.media import sniff
from domain.archive.content import BlobStore, BlobTooLargeError, EmptyBlobError, StagedBlob
from domain.archive.rules import check_media_type, sanitise_filename
from domain.shared.errors import RuleViolationError


class PayloadTooLargeError(RuleViolationError):
    code = "payload_too_large"


class EmptyFileError(RuleViolationError):
    code = "empty_file"


@dataclass(frozen=True)
class Accepted:
    filename: str
    media_type: str
    size: int
    sha256: str


def check(blobs: BlobStore, chunks: Iterable[bytes], filename: str, declared_type: str | None,
          limit: int, generated_type: str | None = None) -> tuple[Accepted, StagedBlob]:
    """Stage and check the content without committing it: the caller commits it (under the
    content's lock) together with the event that references it."""
    name = sanitise_filename(filename)
    try:
        staged = blobs.stage(chunks, limit)
    except BlobTooLargeError as exc:
        raise PayloadTooLargeError(str(exc), field="file") from None
    except EmptyBlobError as exc:
        raise EmptyFileError(str(exc), field="file") from None
    try:
        media_type = check_media_type(sniff(staged.head), declared_type, name, generated_type)
    except BaseException:
        blobs.discard(staged)
        raise
    return Accepted(name, media_type, staged.size, staged.sha256), staged
