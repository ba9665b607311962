"""Document: one archived image or file (影像资料) of a customer, optionally of one fund account
(account-level vs customer-level), in a business line, optionally of a business (business type,
flow instance). Its content lives in the blob store under its SHA-256; the aggregate records every
version, reclassification, edit, deletion, restoration, filing and purge as an event, so the full
history of a single document can be replayed (记录单个影像资料的历史变化)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.domain import event
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import ConflictError, InvalidInputError, RuleViolationError

EDITABLE_METADATA = ("title", "note", "tags", "document_date")
Tag = Annotated[str, Field(min_length=1, max_length=30)]


class MetadataChanges(BaseModel):
    """The metadata a document knows, typed: every key is one of EDITABLE_METADATA (any other
    is refused, nothing free-form is kept); ``null`` clears a value."""

    model_config = ConfigDict(extra="forbid", strict=False)

    title: str | None = Field(None, min_length=1, max_length=200, examples=["身份证正面"])
    note: str | None = Field(None, max_length=2000)
    tags: list[Tag] | None = Field(None, max_length=20, examples=[["opening"]])
    document_date: date | None = Field(None, description="The date on the document (YYYY-MM-DD)")

    @classmethod
    def checked(cls, changes: dict[str, Any]) -> dict[str, Any]:
        """``changes`` as stored (JSON values; only the keys given), or InvalidInputError."""
        try:
            model = cls.model_validate(changes)
        except ValidationError as exc:
            errors = [{"path": ".".join(str(p) for p in e["loc"]) or "changes", "message": e["msg"]}
                      for e in exc.errors(include_url=False)]
            raise InvalidInputError(f"metadata {errors[0]['path']}: {errors[0]['message']}", errors) from None
        return model.model_dump(mode="json", include=set(model.model_fields_set))


class DocumentDeletedError(ConflictError):
    code = "document_deleted"


class Document(LedgerAggregate):
    class Uploaded(LedgerAggregate.Created):
        customer: str | None
        fund_account: str | None
        business_line: str
        department_id: UUID | None
        business_type: str | None
        flow_instance: UUID | None
        category: str
        filename: str
        media_type: str
        size: int
        sha256: str
        source: str
        metadata: dict[str, Any]

    @event(Uploaded)
    def __init__(self, customer: str | None, fund_account: str | None, business_line: str,
                 department_id: UUID | None, business_type: str | None, flow_instance: UUID | None,
                 category: str, filename: str, media_type: str, size: int, sha256: str, source: str,
                 metadata: dict[str, Any]):
        self.customer, self.fund_account, self.business_line = customer, fund_account, business_line
        self.department_id, self.business_type, self.flow_instance = department_id, business_type, flow_instance
        self.category, self.source, self.metadata = category, source, metadata
        self.versions: list[dict[str, Any]] = [
            {"number": 1, "filename": filename, "media_type": media_type, "size": size, "sha256": sha256,
             "purged": False}]
        self.deleted: dict[str, Any] | None = None   # {"reason": ...} while deleted
        self.filed_for: list[str] = []               # flow instances whose completion filed it

    @property
    def level(self) -> str:
        return "account" if self.fund_account else "customer"

    @property
    def current(self) -> dict[str, Any]:
        return self.versions[-1]

    def _require_live(self) -> None:
        if self.deleted is not None:
            raise DocumentDeletedError(f"document {self.id} is deleted; restore it first")

    # -- content ----------------------------------------------------------------------------
    def add_version(self, filename: str, media_type: str, size: int, sha256: str, comment: str) -> int:
        self._require_live()
        if sha256 == self.current["sha256"]:
            raise RuleViolationError("this content is already the current version", field="file")
        self._version_added(number=len(self.versions) + 1, filename=filename, media_type=media_type, size=size,
                            sha256=sha256, comment=comment)
        return len(self.versions)

    class VersionAdded(LedgerAggregate.Event):
        number: int
        filename: str
        media_type: str
        size: int
        sha256: str
        comment: str

    @event(VersionAdded)
    def _version_added(self, number: int, filename: str, media_type: str, size: int, sha256: str,
                       comment: str) -> None:
        self.versions = [*self.versions, {"number": number, "filename": filename, "media_type": media_type,
                                          "size": size, "sha256": sha256, "purged": False}]

    # -- classification and metadata ----------------------------------------------------------
    def reclassify(self, category: str | None, business_type: str | None, reason: str) -> None:
        self._require_live()
        new_category = category if category is not None else self.category
        new_type = business_type if business_type is not None else self.business_type
        if (new_category, new_type) == (self.category, self.business_type):
            raise RuleViolationError("nothing changed: the document already has this classification")
        self._reclassified(category=new_category, business_type=new_type, old_category=self.category,
                           old_business_type=self.business_type, reason=reason)

    class Reclassified(LedgerAggregate.Event):
        category: str
        business_type: str | None
        old_category: str
        old_business_type: str | None
        reason: str

    @event(Reclassified)
    def _reclassified(self, category: str, business_type: str | None, old_category: str,
                      old_business_type: str | None, reason: str) -> None:
        self.category, self.business_type = category, business_type

    def edit_metadata(self, changes: dict[str, Any]) -> None:
        self._require_live()
        unknown = sorted(set(changes) - set(EDITABLE_METADATA))
        if unknown:
            raise RuleViolationError(f"metadata {unknown[0]!r} cannot be edited; editable: "
                                     f"{', '.join(EDITABLE_METADATA)}", field=unknown[0])
        changes = MetadataChanges.checked(changes)
        changed = {k: v for k, v in changes.items() if self.metadata.get(k) != v}
        if not changed:
            raise RuleViolationError("nothing changed")
        self._metadata_edited(changes=changed, old_values={k: self.metadata.get(k) for k in changed})

    class MetadataEdited(LedgerAggregate.Event):
        changes: dict[str, Any]
        old_values: dict[str, Any]

    @event(MetadataEdited)
    def _metadata_edited(self, changes: dict[str, Any], old_values: dict[str, Any]) -> None:
        self.metadata = {**self.metadata, **changes}

    # -- deletion ---------------------------------------------------------------------------------
    def delete(self, reason: str) -> None:
        self._require_live()
        if not reason.strip():
            raise RuleViolationError("a deletion needs a reason", field="reason")
        self._deleted(reason=reason)

    class Deleted(LedgerAggregate.Event):
        reason: str

    @event(Deleted)
    def _deleted(self, reason: str) -> None:
        self.deleted = {"reason": reason}

    def restore(self, reason: str) -> None:
        if self.deleted is None:
            raise RuleViolationError("the document is not deleted")
        if any(v["purged"] for v in self.versions):
            raise RuleViolationError("the document's content was purged under its retention rule; "
                                     "it cannot be restored")
        self._restored(reason=reason)

    class Restored(LedgerAggregate.Event):
        reason: str

    @event(Restored)
    def _restored(self, reason: str) -> None:
        self.deleted = None

    def purge(self, rule: str) -> list[str]:
        """Record that the content of every version may be (and is being) removed; returns the
        hashes the caller may now drop from the blob store if nothing else references them."""
        if self.deleted is None:
            raise RuleViolationError("only deleted documents are purged")
        hashes = [v["sha256"] for v in self.versions if not v["purged"]]
        if not hashes:
            raise RuleViolationError("the content is already purged")
        self._purged(sha256s=hashes, rule=rule)
        return hashes

    class ContentPurged(LedgerAggregate.Event):
        sha256s: list[str]
        rule: str

    @event(ContentPurged)
    def _purged(self, sha256s: list[str], rule: str) -> None:
        self.versions = [{**v, "purged": True} for v in self.versions]

    # -- automatic archiving ------------------------------------------------------------------------
    def file_under(self, flow_instance: UUID, customer: str | None, fund_account: str | None,
                   business_type: str, department_id: UUID | None) -> bool:
        """File the document under a completed flow's customer and business. Idempotent: filing
        it again for the same instance records nothing (replays and rebuilds have one effect)."""
        if str(flow_instance) in self.filed_for:
            return False
        self._filed(flow_instance=flow_instance, customer=self.customer or customer,
                    fund_account=self.fund_account or fund_account, business_type=business_type,
                    department_id=self.department_id or department_id)
        return True

    class Filed(LedgerAggregate.Event):
        flow_instance: UUID
        customer: str | None
        fund_account: str | None
        business_type: str
        department_id: UUID | None

    @event(Filed)
    def _filed(self, flow_instance: UUID, customer: str | None, fund_account: str | None, business_type: str,
               department_id: UUID | None) -> None:
        self.filed_for = [*self.filed_for, str(flow_instance)]
        self.flow_instance, self.business_type = flow_instance, business_type
        self.customer, self.fund_account, self.department_id = customer, fund_account, department_id
