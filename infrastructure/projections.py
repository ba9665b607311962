"""Runs projections: reads events after the tracked position and applies them in one
transaction with the new position (PostgreSQL read models) or inserts them
idempotently before advancing the position (ClickHouse sinks)."""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from infrastructure.engines.clickhouse import ClickHouse
from infrastructure.eventstore.store import EventStore
from projections.framework import ClickHouseSink, PostgresProjection

log = logging.getLogger(__name__)

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    " name text PRIMARY KEY, position bigint NOT NULL DEFAULT 0,"
    " updated_at timestamptz NOT NULL DEFAULT now())"
)


class InjectedCrash(RuntimeError):
    """Raised by tests (via ``crash_after``) to die in the middle of a batch."""


@dataclass
class ProjectionStatus:
    name: str
    kind: str
    position: int
    head: int
    error: str | None = None

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


class ProjectionRunner:
    def __init__(self, store: EventStore, projection: PostgresProjection | ClickHouseSink, *,
                 clickhouse: ClickHouse | None = None, batch_size: int = 500):
        self.store = store
        self.projection = projection
        self.clickhouse = clickhouse
        self.batch_size = batch_size
        self.name = projection.name
        self.last_error: str | None = None
        self.crash_after: int | None = None  # test hook: raise after applying N events
        if isinstance(projection, ClickHouseSink) and clickhouse is None:
            raise ValueError(f"{projection.name} needs a ClickHouse client")
        events = Identifier(store.datastore.schema, store.recorder.events_table_name)
        topics = projection.topics()
        self._select = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {e}"
            " WHERE notification_id > %s AND notification_id <= %s"
            + (" AND topic = ANY(%s)" if topics else "")
            + " ORDER BY notification_id LIMIT %s"
        ).format(e=events)
        self._head = SQL("SELECT coalesce(max(notification_id), 0) AS head FROM {e}").format(e=events)
        self._topics = list(topics)

    # -- setup ------------------------------------------------------------------
    def create(self) -> None:
        with self.store.datastore.transaction(commit=True) as cur:
            cur.execute(TRACKING_DDL)
            cur.execute("INSERT INTO projection_tracking (name) VALUES (%s) ON CONFLICT DO NOTHING",
                        (self.name,))
            if isinstance(self.projection, PostgresProjection):
                for statement in self.projection.schema:
                    cur.execute(statement)
        if isinstance(self.projection, ClickHouseSink):
            assert self.clickhouse is not None
            for ddl in self.projection.tables.values():
                self.clickhouse.command(ddl.format(db=self.clickhouse.db))

    # -- processing -------------------------------------------------------------
    def run_batch(self) -> int:
        """Apply the next batch; returns how many events it read (0 = caught up or busy)."""
        with self.store.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cur:
            # SKIP LOCKED: while another runner holds this projection, we do nothing.
            cur.execute("SELECT position FROM projection_tracking WHERE name = %s FOR UPDATE SKIP LOCKED",
                        (self.name,))
            row = cur.fetchone()
            if row is None:
                return 0
            position = row["position"]
            cur.execute(self._head)
            head = cur.fetchone()["head"]
            if head <= position:
                return 0
            params: list[Any] = [position, head] + ([self._topics] if self._topics else []) + [self.batch_size]
            cur.execute(self._select, params)
            rows = cur.fetchall()
            new_position = rows[-1]["notification_id"] if len(rows) == self.batch_size else head
            events = [(r["notification_id"], self._decode(r)) for r in rows]
            if isinstance(self.projection, PostgresProjection):
                for applied, (pos, event) in enumerate(events, 1):
                    self.projection.apply(cur, event, pos)
                    self._maybe_crash(applied)
            else:
                self._sink(events, position, new_position)
            cur.execute("UPDATE projection_tracking SET position = %s, updated_at = now() WHERE name = %s",
                        (new_position, self.name))
        self.last_error = None
        return max(len(rows), 1)

    def _sink(self, events: list[tuple[int, Any]], start: int, end: int) -> None:
        assert self.clickhouse is not None and isinstance(self.projection, ClickHouseSink)
        by_table: dict[str, list] = defaultdict(list)
        for pos, event in events:
            for table, row in self.projection.rows(event, pos):
                by_table[table].append(row)
        for table, rows in by_table.items():
            self.clickhouse.insert(table, rows, self.projection.columns[table],
                                   dedup_token=f"{self.name}:{table}:{start}:{end}")
        self._maybe_crash(len(events))

    def _maybe_crash(self, applied: int) -> None:
        if self.crash_after is not None and applied >= self.crash_after:
            self.crash_after = None
            raise InjectedCrash(f"{self.name}: injected crash after {applied} events")

    def _decode(self, row: dict) -> Any:
        return self.store.mapper.to_domain_event(StoredEvent(
            originator_id=row["originator_id"], originator_version=row["originator_version"],
            topic=row["topic"], state=bytes(row["state"])))

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        done = 0
        while True:
            n = self.run_batch()
            if n == 0:
                return done
            done += n
            if progress:
                status = self.status()
                progress(status.position, status.head)

    # -- operations -------------------------------------------------------------
    def reset(self) -> None:
        """Empty the read model and set the position to 0, in one transaction."""
        with self.store.datastore.transaction(commit=True) as cur:
            cur.execute("SELECT position FROM projection_tracking WHERE name = %s FOR UPDATE", (self.name,))
            if isinstance(self.projection, PostgresProjection):
                for table in self.projection.tables:
                    cur.execute(SQL("TRUNCATE {t}").format(t=Identifier(table)))
            else:
                assert self.clickhouse is not None
                for table in self.projection.tables:
                    self.clickhouse.command(f"TRUNCATE TABLE IF EXISTS {self.clickhouse.db}.`{table}`")
            cur.execute("UPDATE projection_tracking SET position = 0, updated_at = now() WHERE name = %s",
                        (self.name,))

    def position(self) -> int:
        with self.store.datastore.get_connection() as conn:
            row = conn.execute("SELECT position FROM projection_tracking WHERE name = %s",
                               (self.name,)).fetchone()
        return row["position"] if row else 0

    def status(self) -> ProjectionStatus:
        return ProjectionStatus(self.name, self.projection.kind, self.position(), self.store.head(),
                                self.last_error)

