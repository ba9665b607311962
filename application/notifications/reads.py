"""Read marks (已读): events on the operator's marks of the day, applied by the projection, so a
rebuilt in-app list keeps them."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from application.notifications.ports import Inbox
from application.shared.base import CommandResult, Loader, command
from domain.notifications.reads import MAX_IDS, NotificationReads, reads_id
from domain.shared.errors import NotFoundError, RuleViolationError


class ReadMarks:
    # From the host (LedgerApplication) and the composition root:
    load: Loader
    save_one: Callable[[Any], CommandResult]
    inbox: Inbox
    clock: Callable[[], datetime]

    def _marks(self, recipient: str) -> NotificationReads:
        day = self.clock().astimezone(timezone.utc).date().isoformat()
        try:
            return self.load(reads_id(recipient, day), NotificationReads)
        except NotFoundError:
            return NotificationReads.open(recipient, day)

    @command
    def mark_read(self, recipient: str, ids: list[UUID]) -> CommandResult:
        """These notifications of the caller's are read (another's answer 404, as unknown ones)."""
        if len(ids) > MAX_IDS:
            raise RuleViolationError(f"at most {MAX_IDS} notifications at a time", field="ids")
        missing = sorted(set(ids) - self.inbox.owned(recipient, ids), key=str)
        if missing:
            raise NotFoundError(f"notification {missing[0]} does not exist", field="ids")
        marks = self._marks(recipient)
        marks.mark(ids, None)
        return self.save_one(marks)

    @command
    def mark_all_read(self, recipient: str, up_to: int | None = None) -> CommandResult:
        """Everything in the caller's list is read — up to ``up_to`` (a notification's position the
        caller saw), else up to the newest they have now; what arrives later stays unread."""
        newest = self.inbox.newest_position(recipient)
        marks = self._marks(recipient)
        marks.mark([], newest if up_to is None else min(up_to, newest))
        return self.save_one(marks)
