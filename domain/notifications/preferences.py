"""An operator's notification preferences: the language their notifications are written in,
which kinds go out on which channels, and quiet hours (no external message then; the in-app row
never waits). Events of one aggregate per operator, so the projection applies them in order
with everything else and a rebuild sends each notification where it was meant to go then."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.notifications.kinds import DEFAULT_LANGUAGE
from domain.notifications.policy import FirmPolicy
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id


def preferences_id(recipient: str) -> UUID:
    return natural_id("notification-preferences", recipient)


class NotificationPreferences(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        recipient: str

    @event(Created)
    def __init__(self, recipient: str) -> None:
        self.recipient = recipient
        self.language = DEFAULT_LANGUAGE
        self.channels: dict[str, list[str]] = {}       # kind -> channels; a kind absent: the firm's default
        self.quiet_hours: dict[str, str] | None = None  # {"start": "22:00", "end": "08:00", "timezone": ...}

    @classmethod
    def open(cls, recipient: str) -> NotificationPreferences:
        return cls._create(cls.Created, id=preferences_id(recipient), recipient=recipient)

    class PreferencesSet(LedgerAggregate.Event):
        language: str
        channels: dict[str, list[str]]
        quiet_hours: dict[str, str] | None

    def set(self, language: str, channels: Mapping[str, list[str]], quiet_hours: Mapping[str, str] | None,
            policy: FirmPolicy) -> None:
        """Replace the preferences, within the firm's policy."""
        policy.check(language, channels, quiet_hours)
        chosen = {kind: sorted(set(c)) for kind, c in sorted(channels.items())}
        quiet = dict(quiet_hours) if quiet_hours is not None else None
        if (language, chosen, quiet) == (self.language, self.channels, self.quiet_hours):
            raise RuleViolationError("nothing changed: these are your preferences already")
        self._set(language=language, channels=chosen, quiet_hours=quiet)

    @event(PreferencesSet)
    def _set(self, language: str, channels: dict[str, list[str]], quiet_hours: dict[str, str] | None) -> None:
        self.language, self.channels, self.quiet_hours = language, channels, quiet_hours

    def as_dict(self) -> dict[str, Any]:
        return {"language": self.language, "channels": self.channels, "quiet_hours": self.quiet_hours}
