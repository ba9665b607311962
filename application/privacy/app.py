"""Erasure requests (PIPL art. 47): destroy a data subject's key and record that it was done.

Ordering, fail closed: the key is destroyed first, then the ``SubjectErased`` event is saved.
A crash between the two leaves the data already unreadable and no event yet; the request is
repeated (it is idempotent) and records the event, which redacts the read models. The other
order could leave an audited erasure whose data is still readable."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.shared.base import LedgerApplication, command
from domain.forms.customer import Customer
from domain.leads.lead import Lead
from domain.privacy.erasure import Erasure, erasure_id
from domain.privacy.personal import SUBJECT_KINDS, is_erased, subject_ref, transform
from domain.shared.aggregate import LedgerAggregate
from domain.shared.context import current_context
from domain.shared.errors import ConcurrencyConflictError, NotFoundError, RuleViolationError

# The aggregate each kind of subject is.
SUBJECTS: dict[str, type[LedgerAggregate]] = {"lead": Lead, "customer": Customer}
assert set(SUBJECTS) == set(SUBJECT_KINDS)

# The shortest personal value whose quotation makes a kept idempotent answer forgotten.
MIN_QUOTED_CHARS = 4


@dataclass(frozen=True)
class ErasureResult:
    id: UUID
    subject_kind: str
    subject_id: UUID
    erased_at: datetime
    requested_by: str
    position: int
    already: bool  # True: the subject had been erased before (nothing new recorded)


class PrivacyApplication(LedgerApplication):
    name = "privacy"

    @command
    def erase(self, subject_kind: str, subject_id: UUID, reason: str) -> ErasureResult:
        if subject_kind not in SUBJECTS:
            raise RuleViolationError(f"subject kind must be one of {', '.join(SUBJECTS)}", field="subject_kind")
        ref = subject_ref(subject_kind, subject_id)
        eid = erasure_id(subject_kind, subject_id)
        if self.exists(eid):
            self._store.keyring.erase(ref)  # a no-op unless the key row was restored from a backup
            return self._result(self.load(eid, Erasure), self._store.head(), already=True)
        self.load(subject_id, SUBJECTS[subject_kind], what=f"{subject_kind} {subject_id}")
        erasure = Erasure.record(subject_kind, subject_id, reason, current_context().actor)
        values = self._personal_values(subject_id, ref)
        self._store.keyring.erase(ref)  # first: see the module's docstring
        # Kept answers of idempotent retries (ADR 0025) may quote the subject (an intake's answer):
        # they are forgotten too, so no clear copy outlives the key.
        self._store.recorder.keys.forget_answers_quoting(values)
        try:
            return self._result(erasure, self.save_one(erasure).position, already=False)
        except ConcurrencyConflictError:  # a simultaneous request recorded it first
            return self._result(self.load(eid, Erasure), self._store.head(), already=True)

    def _personal_values(self, subject_id: UUID, ref: str) -> set[str]:
        """The subject's personal values as its own events hold them (opened, before the key goes)."""
        values: set[str] = set()

        def collect(owner: str, value: object) -> object:
            text = str(value).strip() if isinstance(value, str | int) else ""
            # A short value ("1", "M") would match unrelated answers, and wipe them.
            if owner == ref and len(text) >= MIN_QUOTED_CHARS and not is_erased(text):
                values.add(text)
            return value

        for event in self.events.get(subject_id):
            transform(dict(vars(event)), type(event), collect)
        return values

    def erasure(self, subject_kind: str, subject_id: UUID) -> ErasureResult:
        eid = erasure_id(subject_kind, subject_id)
        if subject_kind not in SUBJECTS or not self.exists(eid):
            raise NotFoundError(f"{subject_kind} {subject_id} was not erased")
        return self._result(self.load(eid, Erasure), self._store.head(), already=True)

    @staticmethod
    def _result(erasure: Erasure, position: int, *, already: bool) -> ErasureResult:
        return ErasureResult(erasure.id, erasure.subject_kind, erasure.subject_id, erasure.created_on,
                             erasure.requested_by, position, already)
