"""渠道1.0 relationships: a phone bound to an account manager, an IB or a branch. Imported
from the legacy system (or an adapter); intake filters bound phones out and attribution on
account opening weighs them against the referral department."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id


def binding_id(phone: str) -> UUID:
    return natural_id("lead_binding", phone)


class Binding(LedgerAggregate):
    class Bound(LedgerAggregate.Created):
        phone: str
        kind: str
        holder: str
        department_id: str | None
        bound_at: str
        source: str

    @event(Bound)
    def __init__(self, phone: str, kind: str, holder: str, department_id: str | None, bound_at: str,
                 source: str):
        self.phone, self.kind, self.holder, self.department_id = phone, kind, holder, department_id
        self.bound_at, self.source = bound_at, source
        self.active = True

    @classmethod
    def create(cls, phone: str, kind: str, holder: str, department_id: str | None, bound_at: str,
               source: str) -> Binding:
        return cls._create(cls.Bound, id=binding_id(phone), phone=phone, kind=kind, holder=holder,
                           department_id=department_id, bound_at=bound_at, source=source)

    class Rebound(LedgerAggregate.Event):
        phone: str
        kind: str
        holder: str
        department_id: str | None
        bound_at: str
        source: str

    @event(Rebound)
    def rebind(self, phone: str, kind: str, holder: str, department_id: str | None, bound_at: str,
               source: str) -> None:
        self.kind, self.holder, self.department_id, self.bound_at, self.source = (
            kind, holder, department_id, bound_at, source)
        self.active = True

    def unbind(self, reason: str) -> None:
        """The relationship ended (解除绑定): the phone is no longer filtered at intake and no
        longer a candidate for attribution."""
        if not self.active:
            raise RuleViolationError(f"{self.phone} is not bound (the binding was removed before)", field="phone")
        self._unbound(self.phone, reason)

    class Unbound(LedgerAggregate.Event):
        phone: str
        reason: str

    @event(Unbound)
    def _unbound(self, phone: str, reason: str) -> None:
        self.active = False
