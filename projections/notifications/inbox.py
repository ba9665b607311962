"""The notifications projection, ``notifications.inbox`` (ADR 0015): events become in-app
notifications (站内信) per recipient and, in the same transaction, outbox rows for external
channels. Read marks and preferences are events too, applied here in order with the rest, so a
rebuild re-derives the list as it was — read marks included — and sends nothing outside."""
from __future__ import annotations

from typing import Any

from domain.notifications.preferences import NotificationPreferences
from domain.notifications.reads import NotificationReads
from projections.framework import PostgresProjection, SqlWriter, handles, json_text
from projections.notifications import schema
from projections.notifications.delivery import DeliveryRules, Outlet
from projections.notifications.flows import FlowNotices
from projections.notifications.leads import LeadNotices

NAME = "notifications.inbox"


class NotificationsProjection(FlowNotices, LeadNotices, PostgresProjection):
    name = NAME
    tables = schema.TABLES          # the outbox is not among them: a rebuild never truncates it
    schema = schema.SCHEMA

    def __init__(self, rules: DeliveryRules | None = None):
        self.outlet = Outlet(rules or DeliveryRules())

    @handles(NotificationPreferences.Created)
    def preferences_created(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("INSERT INTO notifications_preferences (recipient, id, language) VALUES (%s, %s, 'zh')"
                  " ON CONFLICT (recipient) DO NOTHING", (e.recipient, e.originator_id))

    @handles(NotificationPreferences.PreferencesSet)
    def preferences_set(self, w: SqlWriter, e: Any, position: int) -> None:
        quiet = json_text(e.quiet_hours) if e.quiet_hours is not None else None
        w.execute("UPDATE notifications_preferences SET language = %s, channels = %s::jsonb, quiet_hours = %s::jsonb"
                  " WHERE id = %s", (e.language, json_text(e.channels), quiet, e.originator_id))

    @handles(NotificationReads.Created)
    def reads_opened(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("INSERT INTO notifications_readers VALUES (%s, %s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.recipient))

    @handles(NotificationReads.NotificationsRead)
    def read(self, w: SqlWriter, e: Any, position: int) -> None:
        """已读: the named notifications, and every one derived up to a position ("all read")."""
        row = w.execute("SELECT recipient FROM notifications_readers WHERE id = %s", (e.originator_id,)).fetchone()
        if row is None:
            return
        if e.ids:
            w.execute("UPDATE notifications SET read_at = %s WHERE recipient = %s AND id = ANY(%s)"
                      " AND read_at IS NULL", (e.timestamp, row["recipient"], list(e.ids)))
        if e.up_to is not None:
            w.execute("UPDATE notifications SET read_at = %s WHERE recipient = %s AND position <= %s"
                      " AND read_at IS NULL", (e.timestamp, row["recipient"], e.up_to))
