"""``notifications_outbox`` in PostgreSQL: the delivery side of the contract with the
``notifications.inbox`` projection, which inserts the rows (ADR 0015). Every statement is one
autocommit statement: a claim locks, marks and commits in one go, so "in flight" is the row's
``sending`` status and lease, never a lock held across a network call."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.postgres import PostgresDatastore

from domain.notifications.delivery import DUE, ChannelName, OutboxRow, Status
from infrastructure.eventstore.schema import create_tables

TABLE = "notifications_outbox"
# The contract's statement, word for word the projection's: whichever side starts first creates it.
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS notifications_outbox (key text PRIMARY KEY, notification_id uuid NOT NULL,"
    " recipient text NOT NULL, channel text NOT NULL CHECK (channel IN ('email','sms','wecom','oa')),"
    " kind text NOT NULL, language text NOT NULL, subject text NOT NULL, body text NOT NULL, link text,"
    " payload jsonb NOT NULL DEFAULT '{}', status text NOT NULL DEFAULT 'pending',"
    " attempts int NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL, last_error text,"
    " created_at timestamptz NOT NULL, sent_at timestamptz)"
)
INDEXES = (
    # Claims, by due time (the projection's statement too).
    "CREATE INDEX IF NOT EXISTS notifications_outbox_due ON notifications_outbox (next_attempt_at)"
    " WHERE status IN ('pending','failed')",
    # Interrupted sends: rows still 'sending' whose lease has run out.
    "CREATE INDEX IF NOT EXISTS notifications_outbox_sending ON notifications_outbox (next_attempt_at)"
    " WHERE status = 'sending'",
    # The dead-letter list (and any status) newest first; the purge of old sent rows.
    "CREATE INDEX IF NOT EXISTS notifications_outbox_status ON notifications_outbox (status, created_at, key)",
)
COLUMNS = ("key, notification_id, recipient, channel, kind, language, subject, body, link, payload, status,"
           " attempts, next_attempt_at, last_error, created_at, sent_at")
# A late answer may still be recorded as sent after recovery moved the row on (its own attempt only).
SENT_FROM = ["sending", "pending", "in_doubt"]


def _row(values: dict[str, Any]) -> OutboxRow:
    return OutboxRow(**values)


class OutboxStore:
    def __init__(self, datastore: PostgresDatastore):
        self.datastore = datastore

    def create(self) -> None:
        create_tables(self.datastore, (CREATE_TABLE, *INDEXES))

    def _all(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.datastore.get_connection() as conn:
            return conn.execute(sql, params).fetchall()

    def _count(self, sql: str, params: dict[str, Any]) -> int:
        with self.datastore.get_connection() as conn:
            return conn.execute(sql, params).rowcount

    # -- the worker ---------------------------------------------------------------------------
    def claim(self, channels: Sequence[str], now: datetime, lease: timedelta, limit: int) -> list[OutboxRow]:
        rows = self._all(
            f"UPDATE {TABLE} o SET status = 'sending', attempts = o.attempts + 1, next_attempt_at = %(until)s"
            f" FROM (SELECT key FROM {TABLE} WHERE status = ANY(%(due)s) AND next_attempt_at <= %(now)s"
            "  AND channel = ANY(%(channels)s) ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED) due"
            " WHERE o.key = due.key RETURNING " + ", ".join(f"o.{c.strip()}" for c in COLUMNS.split(",")),
            {"until": now + lease, "due": list(DUE), "now": now, "channels": list(channels), "limit": limit})
        return sorted((_row(r) for r in rows), key=lambda r: (r.created_at, r.key))

    def record_sent(self, key: str, attempts: int, at: datetime) -> bool:
        return self._count(
            f"UPDATE {TABLE} SET status = 'sent', sent_at = %(at)s, last_error = NULL"
            " WHERE key = %(key)s AND attempts = %(attempts)s AND status = ANY(%(from)s)",
            {"at": at, "key": key, "attempts": attempts, "from": SENT_FROM}) == 1

    def release(self, key: str, attempts: int, now: datetime) -> bool:
        return self._count(
            f"UPDATE {TABLE} SET status = 'pending', attempts = attempts - 1, next_attempt_at = %(now)s"
            " WHERE key = %(key)s AND attempts = %(attempts)s AND status = 'sending'",
            {"now": now, "key": key, "attempts": attempts}) == 1

    def record_failure(self, key: str, attempts: int, status: Status, error: str, next_attempt_at: datetime) -> bool:
        return self._count(
            f"UPDATE {TABLE} SET status = %(status)s, last_error = %(error)s, next_attempt_at = %(next)s"
            " WHERE key = %(key)s AND attempts = %(attempts)s AND status = 'sending'",
            {"status": status, "error": error, "next": next_attempt_at, "key": key, "attempts": attempts}) == 1

    def stale(self, channels: Sequence[str], now: datetime, limit: int) -> list[OutboxRow]:
        return [_row(r) for r in self._all(
            f"SELECT {COLUMNS} FROM {TABLE} WHERE status = 'sending' AND next_attempt_at <= %(now)s"
            " AND channel = ANY(%(channels)s) ORDER BY next_attempt_at LIMIT %(limit)s",
            {"now": now, "channels": list(channels), "limit": limit})]

    def purge_sent(self, before: datetime, limit: int = 5000) -> int:
        """Sent rows created before ``before`` (long past the age at which the projection enqueues,
        so no replay can enqueue their keys again)."""
        return self._count(
            f"DELETE FROM {TABLE} WHERE key IN (SELECT key FROM {TABLE} WHERE status = 'sent'"
            " AND created_at < %(before)s LIMIT %(limit)s)", {"before": before, "limit": limit})

    # -- people: the dead-letter list and retries ------------------------------------------------
    def get(self, key: str) -> OutboxRow | None:
        rows = self._all(f"SELECT {COLUMNS} FROM {TABLE} WHERE key = %(key)s", {"key": key})
        return _row(rows[0]) if rows else None

    def page(self, statuses: Sequence[Status], channel: ChannelName | None,
             after: tuple[datetime, str] | None, limit: int) -> list[OutboxRow]:
        return [_row(r) for r in self._all(
            f"SELECT {COLUMNS} FROM {TABLE} WHERE status = ANY(%(statuses)s)"
            " AND (%(channel)s::text IS NULL OR channel = %(channel)s)"
            " AND (%(at)s::timestamptz IS NULL OR (created_at, key) < (%(at)s, %(key)s))"
            " ORDER BY created_at DESC, key DESC LIMIT %(limit)s",
            {"statuses": list(statuses), "channel": channel, "at": after[0] if after else None,
             "key": after[1] if after else None, "limit": limit})]

    def requeue(self, key: str, statuses: Sequence[Status], now: datetime) -> OutboxRow | None:
        rows = self._all(
            f"UPDATE {TABLE} SET status = 'pending', attempts = 0, next_attempt_at = %(now)s"
            f" WHERE key = %(key)s AND status = ANY(%(statuses)s) RETURNING {COLUMNS}",
            {"now": now, "key": key, "statuses": list(statuses)})
        return _row(rows[0]) if rows else None

    def requeue_batch(self, status: Status, channel: ChannelName | None, now: datetime, after: str | None,
                      limit: int) -> list[str]:
        rows = self._all(
            f"UPDATE {TABLE} o SET status = 'pending', attempts = 0, next_attempt_at = %(now)s"
            f" FROM (SELECT key FROM {TABLE} WHERE status = %(status)s"
            "  AND (%(channel)s::text IS NULL OR channel = %(channel)s)"
            "  AND (%(after)s::text IS NULL OR key > %(after)s)"
            "  ORDER BY key LIMIT %(limit)s FOR UPDATE SKIP LOCKED) r"
            " WHERE o.key = r.key RETURNING o.key",
            {"now": now, "status": status, "channel": channel, "after": after, "limit": limit})
        return [r["key"] for r in rows]

    def counts(self) -> dict[tuple[str, str], int]:
        rows = self._all(f"SELECT channel, status, count(*) AS n FROM {TABLE} GROUP BY channel, status", {})
        return {(r["channel"], r["status"]): r["n"] for r in rows}
