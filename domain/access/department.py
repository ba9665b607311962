"""Department: a node of the organisation tree (head office, branches, groups, IB units)."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.text import KEY_LENGTH, require_text

DEPARTMENT_KINDS = ("head_office", "branch", "business_group", "online_finance", "ib_unit", "other")


class Department(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        code: str
        name: str
        kind: str
        parent_id: UUID | None

    @event(Created)
    def __init__(self, code: str, name: str, kind: str, parent_id: UUID | None):
        self.code = code
        self.name = name
        self.kind = kind
        self.parent_id = parent_id
        self.closed = False

    @classmethod
    def create(cls, code: str, name: str, kind: str, parent_id: UUID | None, *, id: UUID | None = None) -> Department:
        if kind not in DEPARTMENT_KINDS:
            raise RuleViolationError(f"unknown department kind {kind!r}; one of {', '.join(DEPARTMENT_KINDS)}",
                                     field="kind")
        # A fixed id makes imports and demo data idempotent; without one the aggregate makes one.
        return cls._create(cls.Created, id=id, code=require_text(code, "code", KEY_LENGTH),
                           name=require_text(name.strip(), "name"), kind=kind, parent_id=parent_id)

    def rename(self, name: str) -> None:
        name = require_text(name.strip(), "name")
        if self.closed:
            raise RuleViolationError("a closed department cannot be renamed")
        if name == self.name:
            raise RuleViolationError("the new name is the current name", field="name")
        self._renamed(old_name=self.name, name=name)

    class Renamed(LedgerAggregate.Event):
        old_name: str
        name: str

    @event(Renamed)
    def _renamed(self, old_name: str, name: str) -> None:
        self.name = name

    def move(self, new_parent_id: UUID | None, new_parent_ancestors: list[UUID]) -> None:
        """Move under another parent; ``new_parent_ancestors`` is the new parent's chain up
        to the root, which the application reads from the event store."""
        if self.closed:
            raise RuleViolationError("a closed department cannot be moved")
        if new_parent_id == self.parent_id:
            raise RuleViolationError("the department is already under that parent", field="parent_id")
        if new_parent_id == self.id or self.id in new_parent_ancestors:
            raise RuleViolationError("moving a department under itself or one of its sub-departments "
                                     "would create a cycle", field="parent_id")
        self._moved(old_parent_id=self.parent_id, parent_id=new_parent_id)

    class Moved(LedgerAggregate.Event):
        old_parent_id: UUID | None
        parent_id: UUID | None

    @event(Moved)
    def _moved(self, old_parent_id: UUID | None, parent_id: UUID | None) -> None:
        self.parent_id = parent_id

    def close(self, reason: str) -> None:
        if self.closed:
            raise RuleViolationError("the department is already closed")
        self._closed(reason=reason)

    class Closed(LedgerAggregate.Event):
        reason: str

    @event(Closed)
    def _closed(self, reason: str) -> None:
        self.closed = True
