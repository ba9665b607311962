"""Retention: the content of deleted documents purged once their category's retention has run
out (the events stay; only the bytes go)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from application.shared.base import CommandResult, command
from domain.archive.content import BlobStore
from domain.archive.document import Document
from domain.archive.rules import RetentionRule


class Retention:
    # Given at composition:
    blobs: BlobStore
    retention: RetentionRule
    # From the host (LedgerApplication, Documents):
    save_one: Callable[[Any], CommandResult]
    document: Callable[..., Document]

    @command
    def purge_due(self, candidates: Iterable[tuple[UUID, datetime]], now: datetime,
                  still_referenced: Callable[[str, UUID], bool],
                  catch_up: Callable[[], Any] | None = None) -> list[str]:
        """Purge the content of deleted documents whose retention has run out. ``candidates`` are
        (document, deleted at) pairs from the read model; the aggregate decides again. A blob is
        removed only when no other live version references the same content; ``catch_up`` brings
        the read model behind ``still_referenced`` up to date under the content's lock."""
        purged = []
        for document_id, deleted_at in candidates:
            document = self.document(document_id)
            if document.deleted is None or not self.retention.purgeable(document.category, deleted_at, now):
                continue
            if all(v["purged"] for v in document.versions):
                continue
            hashes = document.purge(f"retention:{document.category}")
            self.save_one(document)
            for sha256 in hashes:
                # Under the content's lock, with the read model caught up: an upload that reused
                # this content either saved its event before (and is seen) or commits after.
                with self.blobs.lock(sha256):
                    if catch_up is not None:
                        catch_up()
                    if not still_referenced(sha256, document.id):
                        self.blobs.delete(sha256)
            purged.append(str(document_id))
        return purged
