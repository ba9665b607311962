"""Business type: a kind of business (fee-rate change, account opening, ...) with a form per
customer subject. Admins edit drafts; publishing freezes them as a numbered version that never
changes, and flow instances pin the version they started with."""
from __future__ import annotations

import re
from typing import Any, TypedDict

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import NotFoundError, RuleViolationError
from domain.shared.ids import natural_id

CODE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
SUBJECT = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


class PublishedVersion(TypedDict):
    number: int
    forms: dict[str, dict[str, Any]]  # subject -> form schema


class BusinessType(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        code: str
        name: str
        business_line: str
        description: str
        subjects: list[str]

    @event(Created)
    def __init__(self, code: str, name: str, business_line: str, description: str, subjects: list[str]) -> None:
        self.code, self.name, self.description = code, name, description
        self.business_line: str = business_line  # always set here, unlike LedgerAggregate's default
        self.subjects = subjects
        self.drafts: dict[str, dict[str, Any]] = {}
        self.versions: list[PublishedVersion] = []

    @classmethod
    def create(cls, code: str, name: str, business_line: str, description: str, subjects: list[str]) -> BusinessType:
        if not CODE.fullmatch(code):
            raise RuleViolationError("code must be 2-48 of a-z, 0-9, '_' starting with a letter", field="code")
        bad = [s for s in subjects if not SUBJECT.fullmatch(s)]
        if not subjects or bad:
            raise RuleViolationError("subjects must be non-empty codes such as individual, institution",
                                     field="subjects")
        return cls._create(cls.Created, id=natural_id("business_type", code), code=code, name=name.strip(),
                           business_line=business_line, description=description, subjects=sorted(set(subjects)))

    def save_draft(self, subject: str, schema: dict[str, Any]) -> None:
        if subject not in self.subjects:
            raise RuleViolationError(f"unknown subject {subject!r}; one of {', '.join(self.subjects)}",
                                     field="subject")
        if self.drafts.get(subject) != schema:
            self._draft_saved(subject=subject, schema=schema)

    class DraftSaved(LedgerAggregate.Event):
        subject: str
        schema: dict[str, Any]

    @event(DraftSaved)
    def _draft_saved(self, subject: str, schema: dict[str, Any]) -> None:
        self.drafts = {**self.drafts, subject: schema}

    def publish(self) -> int:
        """Freeze the drafts (already checked by the form engine) as the next version."""
        missing = [s for s in self.subjects if s not in self.drafts]
        if missing:
            raise RuleViolationError(f"no draft form for subjects: {', '.join(missing)}", field="subjects")
        if self.versions and self.versions[-1]["forms"] == self.drafts:
            raise RuleViolationError("the drafts are unchanged since the last published version")
        number = len(self.versions) + 1
        self._published(number=number, forms=dict(self.drafts))
        return number

    class Published(LedgerAggregate.Event):
        number: int
        forms: dict[str, dict[str, Any]]

    @event(Published)
    def _published(self, number: int, forms: dict[str, dict[str, Any]]) -> None:
        self.versions = [*self.versions, {"number": number, "forms": forms}]

    def published_version(self, number: int) -> PublishedVersion:
        if not 1 <= number <= len(self.versions):
            raise NotFoundError(f"{self.code} has no version {number}", field="version")
        return self.versions[number - 1]

    def form(self, number: int, subject: str) -> dict[str, Any]:
        forms = self.published_version(number)["forms"]
        if subject not in forms:
            raise NotFoundError(f"{self.code} v{number} has no form for subject {subject!r}", field="subject")
        return forms[subject]
