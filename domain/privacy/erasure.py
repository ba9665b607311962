"""An erasure (PIPL art. 47): the record that a data subject's personal data was erased.

The event says who asked, when and why; the store destroys the subject's key, so every sealed
value of the subject reads as erased from then on. One aggregate per subject, so a repeated
request finds the first one (idempotent)."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from domain.privacy.personal import SUBJECT_KINDS
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id
from domain.shared.text import require_text


def erasure_id(kind: str, subject_id: UUID) -> UUID:
    return natural_id("erasure", f"{kind}:{subject_id}")


class Erasure(LedgerAggregate):
    class SubjectErased(LedgerAggregate.Created):
        subject_kind: str
        subject_id: UUID
        reason: str
        requested_by: str

    @event(SubjectErased)
    def __init__(self, subject_kind: str, subject_id: UUID, reason: str, requested_by: str):
        self.subject_kind, self.subject_id = subject_kind, subject_id
        self.reason, self.requested_by = reason, requested_by

    @classmethod
    def record(cls, subject_kind: str, subject_id: UUID, reason: str, requested_by: str) -> Erasure:
        if subject_kind not in SUBJECT_KINDS:
            raise RuleViolationError(f"subject kind must be one of {', '.join(SUBJECT_KINDS)}", field="subject_kind")
        require_text(reason, "reason", 500)
        return cls._create(cls.SubjectErased, id=erasure_id(subject_kind, subject_id), subject_kind=subject_kind,
                           subject_id=subject_id, reason=reason, requested_by=requested_by)
