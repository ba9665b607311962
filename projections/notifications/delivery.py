"""Writing a notice: one in-app row per recipient (in their language) and, in the same
transaction, one outbox row per external channel their preferences and the firm's policy give —
only for events younger than ``max_age``, so a rebuild or a first start on an old store re-derives
the in-app list and sends nothing (ADR 0015)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from domain.notifications.kinds import DEFAULT_LANGUAGE, IN_APP, notification_id, outbox_key
from domain.notifications.policy import FirmPolicy, quiet_until
from domain.notifications.recipients import Notice
from domain.notifications.templates import Fields, render
from projections.framework import SqlWriter, json_text


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class DeliveryRules:
    """What the projection takes from settings: the firm's policy, how old an event may be and
    still be sent outside, the UI's public address (deep links in external messages), a clock."""
    policy: FirmPolicy = field(default_factory=FirmPolicy)
    max_age: timedelta = timedelta(hours=1)
    base_url: str = ""
    clock: Callable[[], datetime] = _now


@dataclass(frozen=True)
class Subject:
    """What a notice is about: the UI path it links to, the ids and scope its rows carry, and what
    an OA message adds (摘要: the instance's summary fields)."""
    link: str
    instance_id: UUID | None = None
    task_id: str | None = None
    lead_id: UUID | None = None
    business_line: str | None = None
    department_id: UUID | None = None
    oa: dict[str, Any] = field(default_factory=dict)


INSERT_ROW = (
    "INSERT INTO notifications (id, recipient, kind, title, body, link, instance_id, task_id, lead_id, business_line,"
    " department_id, source_id, source_version, position, created_at)"
    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (id) DO NOTHING")
INSERT_OUTBOX = (
    "INSERT INTO notifications_outbox (key, notification_id, recipient, channel, kind, language, subject, body, link,"
    " payload, next_attempt_at, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s,%s)"
    " ON CONFLICT (key) DO NOTHING")


class Outlet:
    def __init__(self, rules: DeliveryRules):
        self.rules = rules

    def send(self, w: SqlWriter, e: Any, position: int, notice: Notice | None, values: Fields,
             subject: Subject) -> None:
        if notice is None:
            return
        recipients = notice.to(e.actor)
        if not recipients:
            return
        preferences = self._preferences(w, recipients)
        now = self.rules.clock()
        young = now - e.timestamp <= self.rules.max_age
        url = self.rules.base_url.rstrip("/") + subject.link
        for recipient in recipients:
            chosen = preferences.get(recipient, {})
            language = chosen.get("language") or DEFAULT_LANGUAGE
            title, body = render(notice.kind, language, values)
            nid = notification_id(e.originator_id, e.originator_version, recipient, notice.kind)
            channels = self.rules.policy.channels_for(notice.kind, chosen.get("channels"))
            if IN_APP in channels:
                w.execute(INSERT_ROW, (nid, recipient, notice.kind, title, body, subject.link, subject.instance_id,
                                       subject.task_id, subject.lead_id, subject.business_line, subject.department_id,
                                       e.originator_id, e.originator_version, position, e.timestamp))
            if not young:
                continue  # a replay of history: the in-app list only, never a message outside
            due = quiet_until(now, chosen.get("quiet_hours"))
            for channel in channels:
                if channel == IN_APP:
                    continue
                payload = {"url": url, **(subject.oa if channel == "oa" else {})}
                w.execute(INSERT_OUTBOX, (outbox_key(e.originator_id, e.originator_version, recipient, channel),
                                          nid, recipient, channel, notice.kind, language, title, body, url,
                                          json_text(payload, default=str), due, now))

    @staticmethod
    def _preferences(w: SqlWriter, recipients: list[str]) -> dict[str, dict[str, Any]]:
        rows = w.execute("SELECT recipient, language, channels, quiet_hours FROM notifications_preferences"
                         " WHERE recipient = ANY(%s)", (recipients,)).fetchall()
        return {r["recipient"]: r for r in rows}
