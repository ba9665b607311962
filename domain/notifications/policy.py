"""The firm's notification policy (from settings) and what it makes of an operator's
preferences: which channels a kind goes out on, and when quiet hours let an external message go."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.notifications.kinds import CHANNELS, EXTERNAL, IN_APP, KINDS, LANGUAGES
from domain.shared.errors import InvalidInputError

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass(frozen=True)
class FirmPolicy:
    """``enabled``: the external channels the firm has connected; ``defaults``: the external
    channels a kind goes to for an operator who chose nothing for it; ``required_in_app``: kinds
    nobody may mute in the in-app list."""
    enabled: frozenset[str] = frozenset(EXTERNAL)
    defaults: tuple[str, ...] = ()
    required_in_app: frozenset[str] = frozenset({"task_arrived", "returned_to_you", "sla_breached",
                                                 "sla_escalated"})

    @classmethod
    def of(cls, enabled: Iterable[str], defaults: Iterable[str], required_in_app: Iterable[str]) -> FirmPolicy:
        """From settings' comma lists; names that are not channels or kinds are refused."""
        lists = {"enabled": list(enabled), "defaults": list(defaults), "required_in_app": list(required_in_app)}
        for name, known in (("enabled", EXTERNAL), ("defaults", EXTERNAL), ("required_in_app", KINDS)):
            unknown = sorted(set(lists[name]) - set(known))
            if unknown:
                raise ValueError(f"notification policy {name}: unknown {', '.join(unknown)}")
        return cls(frozenset(lists["enabled"]), tuple(c for c in lists["defaults"] if c in lists["enabled"]),
                   frozenset(lists["required_in_app"]))

    def channels_for(self, kind: str, chosen: Mapping[str, list[str]] | None) -> list[str]:
        """The channels ``kind`` goes out on for an operator who chose ``chosen`` (kind -> channels),
        within policy: disabled channels dropped, in-app kept where it may not be muted."""
        picked = (chosen or {}).get(kind)
        channels = [IN_APP, *self.defaults] if picked is None else list(picked)
        out = [c for c in CHANNELS if c in channels and (c == IN_APP or c in self.enabled)]
        if kind in self.required_in_app and IN_APP not in out:
            out.insert(0, IN_APP)
        return out

    def check(self, language: str, channels: Mapping[str, list[str]], quiet_hours: Mapping[str, str] | None) -> None:
        """Preferences an operator may hold, or InvalidInputError naming each problem."""
        errors: list[dict[str, Any]] = []
        if language not in LANGUAGES:
            errors.append({"path": "language", "message": f"one of {', '.join(LANGUAGES)}"})
        for kind, chosen in channels.items():
            if kind not in KINDS:
                errors.append({"path": f"channels.{kind}", "message": "not a kind of notification"})
                continue
            for channel in chosen:
                if channel not in CHANNELS:
                    errors.append({"path": f"channels.{kind}", "message": f"{channel!r} is not a channel"})
                elif channel != IN_APP and channel not in self.enabled:
                    errors.append({"path": f"channels.{kind}", "message": f"the firm has not enabled {channel}"})
            if kind in self.required_in_app and IN_APP not in chosen:
                errors.append({"path": f"channels.{kind}", "message": f"{kind} cannot be muted in-app (firm policy)"})
        if quiet_hours is not None:
            errors += _quiet_problems(quiet_hours)
        if errors:
            raise InvalidInputError(f"{errors[0]['path']}: {errors[0]['message']}", errors)


def _quiet_problems(quiet: Mapping[str, str]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if set(quiet) != {"start", "end", "timezone"}:
        return [{"path": "quiet_hours", "message": "quiet hours are start, end (HH:MM) and timezone"}]
    for key in ("start", "end"):
        if not _HHMM.match(str(quiet[key])):
            errors.append({"path": f"quiet_hours.{key}", "message": "a time HH:MM (00:00 to 23:59)"})
    if not errors and quiet["start"] == quiet["end"]:
        errors.append({"path": "quiet_hours.end", "message": "quiet hours end at another time than they start"})
    try:
        ZoneInfo(str(quiet["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        errors.append({"path": "quiet_hours.timezone", "message": f"unknown time zone {quiet['timezone']!r}"})
    return errors


def quiet_until(now: datetime, quiet: Mapping[str, str] | None) -> datetime:
    """When an external message may go: ``now``, or the end of the quiet hours ``now`` falls in
    (a window may run over midnight, e.g. 22:00-08:00). In-app rows never wait."""
    if not quiet:
        return now
    zone = ZoneInfo(quiet["timezone"])
    local = now.astimezone(zone)
    start, end = time.fromisoformat(quiet["start"]), time.fromisoformat(quiet["end"])
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return now
    until = datetime.combine(local.date(), end, zone)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(now.tzinfo)
