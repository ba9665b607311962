"""Read marks (已读) are events, so a rebuilt in-app list keeps them. They are recorded on one
aggregate per operator and day: no rule spans days, and loading a day's marks stays cheap
however long someone has used the system."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id

MAX_IDS = 500


def reads_id(recipient: str, day: str) -> UUID:
    return natural_id("notification-reads", f"{recipient}:{day}")


class NotificationReads(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        recipient: str
        day: str   # ISO date (UTC) of the marks this aggregate holds

    @event(Created)
    def __init__(self, recipient: str, day: str) -> None:
        self.recipient, self.day = recipient, day

    @classmethod
    def open(cls, recipient: str, day: str) -> NotificationReads:
        return cls._create(cls.Created, id=reads_id(recipient, day), recipient=recipient, day=day)

    class NotificationsRead(LedgerAggregate.Event):
        ids: list[UUID]      # these notifications of the recipient's
        up_to: int | None    # and every one derived from an event at or before this position

    def mark(self, ids: list[UUID], up_to: int | None) -> None:
        if not ids and up_to is None:
            raise RuleViolationError("name the notifications read, or mark all read", field="ids")
        if len(ids) > MAX_IDS:
            raise RuleViolationError(f"at most {MAX_IDS} notifications at a time", field="ids")
        self._read(ids=sorted(set(ids)), up_to=up_to)

    @event(NotificationsRead)
    def _read(self, ids: list[UUID], up_to: int | None) -> None:
        pass
