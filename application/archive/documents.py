"""Documents: upload, versions, classification, metadata, deletion and restoration, content reads."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO
from uuid import UUID

from application.archive.filing import Filing, check_filing
from application.archive.intake import check
from application.shared.base import CommandResult, Loader, command
from domain.archive.content import BlobStore
from domain.archive.document import Document
from domain.archive.rules import check_category, check_code, check_text
from domain.shared.errors import NotFoundError, RuleViolationError
from domain.shared.ids import natural_id


@dataclass(frozen=True)
class Uploaded:
    result: CommandResult
    sha256: str
    size: int
    media_type: str


class Documents:
    # Given at composition:
    blobs: BlobStore
    max_file_bytes: int
    # From the host (LedgerApplication):
    load: Loader
    exists: Callable[[UUID], bool]
    save_one: Callable[[Any], CommandResult]

    def document(self, document_id: UUID, expected_version: int | None = None) -> Document:
        return self.load(document_id, Document, expected_version=expected_version, what=f"document {document_id}")

    @command
    def upload(self, content: Iterable[bytes], *, filename: str, declared_type: str | None, filing: Filing,
               metadata: dict[str, Any] | None = None, source: str = "upload",
               generated_type: str | None = None) -> Uploaded:
        """``generated_type``: content the platform produced itself (never a caller's upload), of a
        type sniffing cannot recognise (rules.GENERATED_TYPES)."""
        check_filing(filing)
        metadata = check_text(metadata or {}, "metadata")
        if not self.exists(natural_id("business_line", filing.business_line)):
            raise NotFoundError(f"unknown business line {filing.business_line!r}", field="business_line")
        if filing.fund_account and not filing.customer:
            raise RuleViolationError("an account-level document names its customer too", field="customer")
        got, staged = check(self.blobs, content, filename, declared_type, self.max_file_bytes, generated_type)
        document = Document(customer=filing.customer, fund_account=filing.fund_account,
                            business_line=filing.business_line, department_id=filing.department_id,
                            business_type=filing.business_type, flow_instance=filing.flow_instance,
                            category=filing.category, filename=got.filename, media_type=got.media_type,
                            size=got.size, sha256=got.sha256, source=source, metadata=metadata)
        return Uploaded(self._commit_and_save(staged, document), got.sha256, got.size, got.media_type)

    def _commit_and_save(self, staged: Any, document: Document) -> CommandResult:
        """Content first, then the event, both under the content's lock (a purge of the same
        content waits, then sees this reference)."""
        try:
            with self.blobs.lock(staged.sha256):
                self.blobs.commit(staged)
                return self.save_one(document)
        finally:
            self.blobs.discard(staged)   # no-op once committed

    @command
    def add_version(self, document_id: UUID, content: Iterable[bytes], *, filename: str,
                    declared_type: str | None, comment: str = "", expected_version: int | None = None) -> Uploaded:
        check_text(comment, "comment")
        document = self.document(document_id, expected_version)
        document._require_live()  # refuse before storing anything
        got, staged = check(self.blobs, content, filename, declared_type, self.max_file_bytes)
        try:
            document.add_version(got.filename, got.media_type, got.size, got.sha256, comment)
        except BaseException:
            self.blobs.discard(staged)
            raise
        return Uploaded(self._commit_and_save(staged, document), got.sha256, got.size, got.media_type)

    # -- classification, metadata, deletion ---------------------------------------------------------
    @command
    def reclassify(self, document_id: UUID, *, category: str | None, business_type: str | None, reason: str,
                   expected_version: int | None = None) -> CommandResult:
        if category is not None:
            check_category(category)
        check_code(business_type, "business_type")
        check_text(reason, "reason")
        document = self.document(document_id, expected_version)
        document.reclassify(category, business_type, reason)
        return self.save_one(document)

    @command
    def edit_metadata(self, document_id: UUID, changes: dict[str, Any],
                      expected_version: int | None = None) -> CommandResult:
        check_text(changes, "changes")
        document = self.document(document_id, expected_version)
        document.edit_metadata(changes)
        return self.save_one(document)

    @command
    def delete(self, document_id: UUID, reason: str, expected_version: int | None = None) -> CommandResult:
        check_text(reason, "reason")
        document = self.document(document_id, expected_version)
        document.delete(reason)
        return self.save_one(document)

    @command
    def restore(self, document_id: UUID, reason: str, expected_version: int | None = None) -> CommandResult:
        check_text(reason, "reason")
        document = self.document(document_id, expected_version)
        document.restore(reason)
        return self.save_one(document)

    def content(self, document: Document, number: int | None = None) -> tuple[dict[str, Any], BinaryIO]:
        versions = document.versions
        chosen = versions[-1] if number is None else next((v for v in versions if v["number"] == number), None)
        if chosen is None:
            raise NotFoundError(f"document {document.id} has no version {number}")
        if chosen["purged"]:
            raise NotFoundError(f"version {chosen['number']} of document {document.id} was purged "
                                "under its retention rule")
        if not self.blobs.exists(chosen["sha256"]):
            raise NotFoundError(f"the content of version {chosen['number']} is missing from the blob store; "
                                "run `ledgerflow archive scan`")
        return chosen, self.blobs.open(chosen["sha256"])
