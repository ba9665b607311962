"""Preferences: an operator's language, channels per kind and quiet hours, within the firm's policy."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from application.shared.base import CommandResult, Loader, command
from domain.notifications.policy import FirmPolicy
from domain.notifications.preferences import NotificationPreferences, preferences_id
from domain.shared.errors import NotFoundError, StaleVersionError


class Preferences:
    # From the host (LedgerApplication) and the composition root:
    load: Loader
    save_one: Callable[[Any], CommandResult]
    policy: FirmPolicy

    def preferences(self, recipient: str) -> NotificationPreferences | None:
        """The operator's preferences, or None while they have kept the firm's defaults."""
        try:
            return self.load(preferences_id(recipient), NotificationPreferences)
        except NotFoundError:
            return None

    @command
    def set_preferences(self, recipient: str, language: str, channels: Mapping[str, list[str]],
                        quiet_hours: Mapping[str, str] | None, expected_version: int | None = None) -> CommandResult:
        found = self.preferences(recipient)
        if found is None:
            if expected_version not in (None, 0):
                raise StaleVersionError(f"your preferences are at version 0, not {expected_version}: reload them "
                                        "and retry", field="If-Match")
            found = NotificationPreferences.open(recipient)
        elif expected_version is not None and found.version != expected_version:
            raise StaleVersionError(f"your preferences are at version {found.version}, not {expected_version}: "
                                    "reload them and retry", field="If-Match")
        found.set(language, channels, quiet_hours, self.policy)
        return self.save_one(found)
