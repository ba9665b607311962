"""The notifications context's Application (ADR 0013 shape, ADR 0015): preferences and read marks.
Notifications themselves are derived by the projection; nothing here sends anything."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from application.notifications.ports import Inbox
from application.notifications.preferences import Preferences
from application.notifications.reads import ReadMarks
from application.shared.base import LedgerApplication
from domain.notifications.policy import FirmPolicy
from infrastructure.eventstore.store import EventStore


def _now() -> datetime:
    return datetime.now(timezone.utc)


class NotificationsApplication(Preferences, ReadMarks, LedgerApplication):
    name = "notifications"

    def __init__(self, store: EventStore, *, policy: FirmPolicy, inbox: Inbox,
                 clock: Callable[[], datetime] = _now):
        super().__init__(store)
        self.policy, self.inbox, self.clock = policy, inbox, clock
