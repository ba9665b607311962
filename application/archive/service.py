"""The archive context's Application: upload, versions, classification, deletion and restoration,
automatic filing of a completed flow's attachments, retention purges and content reads."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO
from uuid import UUID

from application.archive.intake import check
from application.shared.base import CommandResult, LedgerApplication, command
from domain.archive.content import BlobStore
from domain.archive.document import Document
from domain.archive.rules import RetentionRule, check_category, check_code, check_identifier, check_text
from domain.shared.errors import NotFoundError, RuleViolationError
from domain.shared.ids import natural_id


@dataclass(frozen=True)
class Filing:
    """Where a document belongs: customer (and fund account for account-level documents),
    business line, department, and the business it came from."""

    customer: str | None
    fund_account: str | None
    business_line: str
    department_id: UUID | None = None
    business_type: str | None = None
    flow_instance: UUID | None = None
    category: str = "other"


def check_filing(filing: Filing) -> None:
    """Every intake (upload, third-party API, mount, cloud sync) files through here: customer and
    fund account are plain identifiers, codes are codes, nothing carries a NUL."""
    check_category(filing.category)
    check_identifier(filing.customer, "customer")
    check_identifier(filing.fund_account, "fund_account")
    check_code(filing.business_line, "business_line")
    check_code(filing.business_type, "business_type")
    if filing.fund_account and filing.customer and filing.customer != filing.fund_account:
        # The customer directory knows customers by fund account only (ADR 0009): an account-level
        # document of a fund account belongs to that account's customer, nobody else.
        raise RuleViolationError("an account-level document's customer is its fund account's customer "
                                 f"({filing.fund_account})", field="customer")


def _belongs(document: Document, business_line: str | None, customer: str | None,
             fund_account: str | None) -> bool:
    """Whether a completed flow may file this document: same business line, and the document is
    unfiled or already filed under the flow's customer / fund account."""
    if business_line is None or document.business_line != business_line:
        return False
    if document.customer is not None and document.customer != (customer or fund_account):
        return False
    return document.fund_account is None or document.fund_account == fund_account


@dataclass(frozen=True)
class Uploaded:
    result: CommandResult
    sha256: str
    size: int
    media_type: str


class ArchiveApplication(LedgerApplication):
    name = "archive"

    def __init__(self, store: Any, *, blobs: BlobStore, max_file_bytes: int,
                 retention: RetentionRule | None = None,
                 customer_exists: Callable[[str], bool] | None = None):
        super().__init__(store)
        self.blobs = blobs
        self.max_file_bytes = max_file_bytes
        self.retention = retention or RetentionRule()
        self.customer_exists = customer_exists or (lambda account: self.exists(natural_id("customer", account)))

    def document(self, document_id: UUID, expected_version: int | None = None) -> Document:
        return self.load(document_id, Document, expected_version=expected_version, what=f"document {document_id}")

    # -- upload and versions -------------------------------------------------------------------
    @command
    def upload(self, content: Iterable[bytes], *, filename: str, declared_type: str | None, filing: Filing,
               metadata: dict[str, Any] | None = None, source: str = "upload") -> Uploaded:
        check_filing(filing)
        metadata = check_text(metadata or {}, "metadata")
        if not self.exists(natural_id("business_line", filing.business_line)):
            raise NotFoundError(f"unknown business line {filing.business_line!r}", field="business_line")
        if filing.fund_account and not filing.customer:
            raise RuleViolationError("an account-level document names its customer too", field="customer")
        got, staged = check(self.blobs, content, filename, declared_type, self.max_file_bytes)
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

    # -- automatic archiving --------------------------------------------------------------------------
    @command
    def file_flow_attachments(self, flow_instance: UUID, document_ids: list[UUID], *, customer: str | None,
                              fund_account: str | None, business_type: str, department_id: UUID | None,
                              business_line: str | None = None) -> dict[str, list[str]]:
        """File every attachment of a completed flow instance under its customer and business.
        Idempotent per (document, instance): a replay records nothing new.

        Form data is the applicant's input, so a referenced document id proves nothing: only a
        document of the flow's own business line, not yet filed under another customer or fund
        account, is filed; any other is reported ``foreign`` and left untouched."""
        outcome: dict[str, list[str]] = {"filed": [], "already": [], "missing": [], "foreign": []}
        changed = []
        for document_id in dict.fromkeys(document_ids):
            try:
                document = self.document(document_id)
            except NotFoundError:
                outcome["missing"].append(str(document_id))
                continue
            if not _belongs(document, business_line, customer, fund_account):
                outcome["foreign"].append(str(document_id))
            elif document.file_under(flow_instance, customer, fund_account, business_type, department_id):
                changed.append(document)
                outcome["filed"].append(str(document_id))
            else:
                outcome["already"].append(str(document_id))
        if changed:
            self.save_all(*changed)
        return outcome

    # -- retention --------------------------------------------------------------------------------------
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

    # -- content -------------------------------------------------------------------------------------
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
