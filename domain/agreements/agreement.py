"""Agreement (协议): the series of documents generated for one flow instance from one template and
language. Each generation is a numbered version holding the rendered section texts and the PDF's
hash (the PDF itself is archived as a document); reviews (approve, reject, 批注) are recorded per
section of a version by the departments involved (004 §5.2, §7.2, §7.3)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.agreements.sections import INVOLVED_ROLES, mark_of, part_of
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import ConflictError, NotFoundError, PermissionDeniedError, RuleViolationError
from domain.shared.ids import natural_id
from domain.shared.text import require_text

MAX_REVIEW_TEXT = 2000


def agreement_id(instance_id: UUID, template_key: str, language: str) -> UUID:
    return natural_id("agreement", f"{instance_id}:{template_key}:{language}")


class SupersededVersionError(ConflictError):
    code = "agreement_version_superseded"


class _Reviewed(LedgerAggregate.Event):
    """Base of the three review events (outside the aggregate: never stored itself)."""

    number: int
    section: str
    role: str
    text: str
    kind = ""

    def apply(self, aggregate: Any) -> None:
        aggregate.reviews = [*aggregate.reviews, {
            "kind": self.kind, "number": self.number, "section": self.section, "role": self.role,
            "text": self.text, "actor": self.actor, "at": self.timestamp}]


class Agreement(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        instance_id: UUID
        template_key: str
        language: str
        title: str
        business_type: str
        business_line: str
        department_id: UUID | None
        fund_account: str | None

    @event(Created)
    def __init__(self, instance_id: UUID, template_key: str, language: str, title: str, business_type: str,
                 business_line: str, department_id: UUID | None, fund_account: str | None) -> None:
        self.instance_id, self.template_key, self.language = instance_id, template_key, language
        self.title, self.business_type = title, business_type
        self.business_line: str = business_line
        self.department_id, self.fund_account = department_id, fund_account
        self.generations: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []   # every review of every version, in order

    @classmethod
    def open(cls, instance_id: UUID, template_key: str, language: str, title: str, business_type: str,
             business_line: str, department_id: UUID | None, fund_account: str | None) -> Agreement:
        return cls._create(cls.Created, id=agreement_id(instance_id, template_key, language),
                           instance_id=instance_id, template_key=template_key, language=language,
                           title=require_text(title, "title"), business_type=business_type,
                           business_line=business_line, department_id=department_id, fund_account=fund_account)

    @property
    def number(self) -> str:
        """The agreement number (协议编号) printed on every version: stable for the series."""
        return f"AG-{self.id.hex[:12].upper()}"

    # -- generation --------------------------------------------------------------------------
    def by_request(self, request_id: str) -> dict[str, Any] | None:
        return next((g for g in self.generations if g["request_id"] == request_id), None)

    def generation(self, number: int) -> dict[str, Any]:
        if not 1 <= number <= len(self.generations):
            raise NotFoundError(f"agreement {self.id} has no version {number}", field="version")
        return self.generations[number - 1]

    def generate(self, *, request_id: str, template_version: int, form_sha256: str, sections: list[dict[str, str]],
                 generated_at: datetime, pdf_sha256: str, pdf_size: int, renderer: str) -> int:
        """The next version; a request that already generated one gets that one back (retries)."""
        existing = self.by_request(request_id)
        if existing is not None:
            return int(existing["number"])
        if not sections:
            raise RuleViolationError("an agreement has at least one section")
        number = len(self.generations) + 1
        self._generated(number=number, request_id=require_text(request_id, "request_id"),
                        template_version=template_version, form_sha256=form_sha256, sections=sections,
                        generated_at=generated_at, pdf_sha256=pdf_sha256, pdf_size=pdf_size, renderer=renderer)
        return number

    class Generated(LedgerAggregate.Event):
        number: int
        request_id: str
        template_version: int
        form_sha256: str
        sections: list[dict[str, str]]   # [{number, title, text}] as rendered, in order
        generated_at: datetime           # also the PDF's creation date: the same inputs give the same file
        pdf_sha256: str
        pdf_size: int
        renderer: str                    # PDF library and font, to reproduce the file

    @event(Generated)
    def _generated(self, number: int, request_id: str, template_version: int, form_sha256: str,
                   sections: list[dict[str, str]], generated_at: datetime, pdf_sha256: str, pdf_size: int,
                   renderer: str) -> None:
        self.generations = [*self.generations, {
            "number": number, "request_id": request_id, "template_version": template_version,
            "form_sha256": form_sha256, "sections": sections, "generated_at": generated_at,
            "pdf_sha256": pdf_sha256, "pdf_size": pdf_size, "renderer": renderer, "document_id": None}]

    def file(self, number: int, document_id: UUID) -> bool:
        """Record where the version's PDF is archived; False when it already is."""
        if self.generation(number)["document_id"] is not None:
            return False
        self._filed(number=number, document_id=document_id)
        return True

    class Filed(LedgerAggregate.Event):
        number: int
        document_id: UUID

    @event(Filed)
    def _filed(self, number: int, document_id: UUID) -> None:
        self.generations = [g if g["number"] != number else {**g, "document_id": document_id}
                            for g in self.generations]

    # -- reviews (004 §5.2 marks, §7.3 approval rights) -----------------------------------------
    def _reviewable(self, number: int, section: str) -> None:
        generation = self.generation(number)
        if number != len(self.generations):
            raise SupersededVersionError(f"version {number} was superseded by version {len(self.generations)}; "
                                         "review the latest", field="version")
        if not any(s["number"] == section for s in generation["sections"]):
            raise NotFoundError(f"version {number} has no section {section}", field="section")

    def approve_section(self, number: int, section: str, roles: frozenset[str], comment: str) -> None:
        self._decide(self.SectionApproved, number, section, roles, comment)

    def reject_section(self, number: int, section: str, roles: frozenset[str], reason: str) -> None:
        if not reason.strip():
            raise RuleViolationError("a rejection says why", field="reason")
        self._decide(self.SectionRejected, number, section, roles, reason)

    def _decide(self, kind: type[LedgerAggregate.Event], number: int, section: str, roles: frozenset[str],
                text: str) -> None:
        part = part_of(section)
        self._reviewable(number, section)
        if part.approver not in roles:
            raise PermissionDeniedError(f"section {section} is approved by {part.approver.upper()} "
                                        f"({part.department}); you are not in that department", field="section")
        self.trigger_event(kind, number=number, section=section, role=part.approver,
                           text=require_text(text.strip(), "text", MAX_REVIEW_TEXT))

    def comment_section(self, number: int, section: str, roles: frozenset[str], text: str) -> None:
        part_of(section)
        self._reviewable(number, section)
        involved = sorted(roles & INVOLVED_ROLES)
        if not involved:
            raise PermissionDeniedError("only the departments involved (SALES, OPS, CLEARING, FINANCE) comment on "
                                        "an agreement", field="section")
        if not text.strip():
            raise RuleViolationError("a comment has text", field="text")
        # An operator in several departments comments for the section's own one when they can.
        role = part_of(section).approver if part_of(section).approver in involved else involved[0]
        self.trigger_event(self.SectionCommented, number=number, section=section, role=role,
                           text=require_text(text.strip(), "text", MAX_REVIEW_TEXT))

    class SectionApproved(_Reviewed):
        kind = "approved"

    class SectionRejected(_Reviewed):
        kind = "rejected"

    class SectionCommented(_Reviewed):
        kind = "commented"

    def reviews_of(self, number: int, section: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.reviews if r["number"] == number and (section is None or r["section"] == section)]

    def marks(self, number: int) -> dict[str, str]:
        """Section number -> approved | pending | rejected | commented, for one version."""
        return {s["number"]: mark_of(self.reviews_of(number, s["number"]))
                for s in self.generation(number)["sections"]}
