"""Runs projections: reads events after the tracked position and applies them in one
transaction with the new position (PostgreSQL read models) or inserts them
idempotently before advancing the position (ClickHouse sinks).

An event a projection cannot apply because of its *data* (a value PostgreSQL refuses, a
value that does not fit a column) is parked instead of stalling the projection for every
aggregate (ADR 0003): the event and every later event of the same aggregate go to
``projection_parked`` — so that aggregate's rows stay as they were, stale but never
half-updated — while other aggregates go on. Status, metrics and ``/ready`` show the count;
``ledgerflow projections retry NAME`` re-applies parked events in order after a fix, and a
rebuild starts clean. Connection failures and schema errors are not data errors: they stall
and retry as before."""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer
import psycopg
from eventsourcing.persistence import PersistenceError, StoredEvent
from psycopg.sql import SQL, Identifier, Literal

from infrastructure.engines.clickhouse import ClickHouse
from infrastructure.eventstore.schema import lock_schema
from infrastructure.eventstore.store import EventStore
from projections.framework import ClickHouseSink, PostgresProjection

log = logging.getLogger(__name__)

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    " name text PRIMARY KEY, position bigint NOT NULL DEFAULT 0,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    # The projection version its tables were built by (rows from before versions: 1, the first),
    # and when the row was made (a blue/green build's row: its UNLOGGED tables do not survive a
    # server crash after that, ADR 0029).
    "ALTER TABLE projection_tracking ADD COLUMN IF NOT EXISTS version int NOT NULL DEFAULT 1",
    "ALTER TABLE projection_tracking ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now()",
)
BUILD_SUFFIX = "@rebuild"  # the tracking (and parked) key of a projection's blue/green build
PARKED_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_parked ("
    " name text NOT NULL, position bigint NOT NULL, originator_id uuid NOT NULL, originator_version int NOT NULL,"
    " topic text NOT NULL, error text NOT NULL, parked_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (name, position))",
    "CREATE INDEX IF NOT EXISTS projection_parked_originator ON projection_parked (name, originator_id)",
)


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _single(row: dict[str, Any] | None) -> dict[str, Any]:
    """The row of a query that always returns exactly one (an aggregate, an EXISTS)."""
    if row is None:
        raise RuntimeError("expected one row from an aggregate query")
    return row


def create_tracking(store: EventStore) -> None:
    """The tracking and parked tables, and the columns added since (only when missing: an ALTER
    would lock the table every running projection updates)."""
    with store.datastore.transaction(commit=True) as cur:
        lock_schema(cur)  # one process at a time creates tables (CREATE IF NOT EXISTS races)
        cur.execute(TRACKING_DDL[0])
        for statement in PARKED_DDL:
            cur.execute(statement)
        cur.execute("SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'projection_tracking'"
                    " AND table_schema = current_schema() AND column_name IN ('version', 'created_at')")
        if _single(cur.fetchone())["n"] < 2:
            cur.execute("LOCK TABLE projection_tracking IN ACCESS EXCLUSIVE MODE")
            for statement in TRACKING_DDL[1:]:
                cur.execute(statement)


def is_data_error(exc: BaseException) -> bool:
    """Errors caused by one event's values, which retrying cannot cure: PostgreSQL data
    exceptions (SQLSTATE class 22: bad text, \\u0000, out of range, bad dates; class 54: a value
    too large for an index entry), patches that do not apply, values psycopg
    cannot adapt, and the handler's own type/value errors on malformed payloads."""
    if isinstance(exc, PersistenceError) and exc.__cause__ is not None:
        exc = exc.__cause__  # eventsourcing's connection wrapper re-raises psycopg errors as its own
    if isinstance(exc, psycopg.DataError):
        return True
    sqlstate = getattr(exc, "sqlstate", None)  # psycopg errors carry one; other exceptions do not
    if sqlstate and str(sqlstate).startswith("54"):
        return True  # program limit exceeded: a value too large for an index entry or a row
    if isinstance(exc, jsonpatch.JsonPatchException | jsonpointer.JsonPointerException):
        return True
    if isinstance(exc, psycopg.ProgrammingError) and getattr(exc, "sqlstate", None) is None:
        return True  # raised client-side: "cannot adapt type ..."
    return isinstance(exc, (TypeError, ValueError, KeyError, AttributeError, UnicodeError))


class PipelineWriter:
    """The writer handlers get in pipeline mode: a cursor per statement, because a pipelined
    cursor that ran several statements answers a fetch with the first one's result, not the last's."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.cursor: Any = None

    def execute(self, query: Any, params: Any = None) -> Any:
        self.cursor = self.conn.cursor()
        return self.cursor.execute(query, params)

    def fetchone(self) -> Any:
        return self.cursor.fetchone()


class InjectedCrash(RuntimeError):
    """Raised by tests (via ``crash_after``) to die in the middle of a batch."""


@dataclass
class ProjectionStatus:
    name: str
    kind: str
    position: int
    head: int
    error: str | None = None
    parked: int = 0
    version: int = 1                         # the version the serving tables were built by
    rebuild: RebuildProgress | None = None   # a blue/green build under way (ADR 0029)

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


@dataclass
class RebuildProgress:
    version: int
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)

    @property
    def percent(self) -> float:
        return 100.0 if self.head <= 0 else min(100.0, 100.0 * self.position / self.head)


class ProjectionRunner:
    def __init__(self, store: EventStore, projection: PostgresProjection | ClickHouseSink, *,
                 clickhouse: ClickHouse | None = None, batch_size: int = 500, key: str | None = None,
                 build_schema: str | None = None, table_suffix: str = ""):
        """``key``, ``build_schema``, ``table_suffix``: a blue/green build's runner (infrastructure/
        rebuilds.py) tracks under its own key and writes to its own schema (PostgreSQL: first on the
        search path, then public) or to suffixed tables (ClickHouse)."""
        self.store = store
        self.projection = projection
        self.clickhouse = clickhouse
        self.batch_size = batch_size
        self.name = projection.name
        self.key = key or projection.name
        self.build_schema = build_schema
        self.table_suffix = table_suffix
        self.needs_rebuild = False  # set by create(): the serving tables were built by another version
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
        create_tracking(self.store)
        with self.store.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cur:
            lock_schema(cur)  # one process at a time creates tables (CREATE IF NOT EXISTS races)
            cur.execute("INSERT INTO projection_tracking (name, version) VALUES (%s, %s) ON CONFLICT DO NOTHING"
                        " RETURNING version", (self.key, self.projection.version))
            if cur.fetchone() is None:  # tables from an earlier start: built by which version?
                cur.execute("SELECT version FROM projection_tracking WHERE name = %s", (self.key,))
                stored = _single(cur.fetchone())["version"]
                self.needs_rebuild = stored < self.projection.version
                if stored > self.projection.version:
                    log.warning("projection %s: the tables were built by version %s, this code is version %s;"
                                " `ledgerflow projections rebuild %s` builds them for this code",
                                self.name, stored, self.projection.version, self.name)
            # A blue/green build of this version that was interrupted: the workers resume it.
            cur.execute("SELECT version FROM projection_tracking WHERE name = %s", (self.key + BUILD_SUFFIX,))
            build = cur.fetchone()
            resume = build is not None and build["version"] == self.projection.version
            self.needs_rebuild = self.needs_rebuild or resume
            if isinstance(self.projection, PostgresProjection):
                for statement in self.projection.schema:
                    if not self.needs_rebuild:
                        cur.execute(statement)
                        continue
                    try:  # the new version's schema may not fit the old tables: they serve as they are
                        with conn.transaction():
                            cur.execute(statement)
                    except psycopg.Error as exc:
                        log.warning("projection %s: the serving tables (an older version) keep their shape (%s);"
                                    " the blue/green rebuild builds the new one", self.name, exc)
        if isinstance(self.projection, ClickHouseSink):
            assert self.clickhouse is not None
            for ddl in (*self.projection.tables.values(), *self.projection.views.values()):
                self.clickhouse.command(ddl.format(db=self.clickhouse.db))

    # -- processing -------------------------------------------------------------
    def run_batch(self, conn: Any = None) -> int:
        """Apply the next batch; returns how many events it read (0 = caught up or busy).
        ``conn``: a connection to run it on (a blue/green build holds one; inside its transaction
        the batch is a savepoint), else one from the pool."""
        try:
            return self._run_batch(careful=False, conn=conn)
        except Exception as exc:
            if not is_data_error(exc):
                raise
            # Some event in the batch carries a value the projection cannot take: apply the
            # batch again event by event, parking the ones that fail (and their aggregates').
            log.warning("projection %s: %s; re-running the batch event by event", self.key, exc)
            return self._run_batch(careful=True, conn=conn)

    def _connection(self, conn: Any) -> Any:
        return nullcontext(conn) if conn is not None else self.store.datastore.get_connection()

    def _enter_build(self, cur: Any) -> None:
        """A build writes its own tables (unqualified names resolve to its schema first) and need
        not wait for its commits to reach the disk: a lost commit loses rows and position together,
        and the build resumes from the position (ADR 0029)."""
        if self.build_schema is not None:
            cur.execute(SQL("SELECT set_config('search_path', {}, true)").format(
                Literal(f"{Identifier(self.build_schema).as_string()}, public")))
        if self.key != self.name:
            cur.execute("SET LOCAL synchronous_commit = off")
            # The build tables grow from empty without statistics: a prepared statement's generic
            # plan, made while they were small, scans them whole ever after (a 100k-event build of
            # leads.leads took 80 s with it, 34 s planning each statement for its values).
            cur.execute("SET LOCAL plan_cache_mode = force_custom_plan")

    def _run_batch(self, careful: bool, conn: Any = None) -> int:
        with self._connection(conn) as conn, conn.transaction(), conn.cursor() as cur:
            self._enter_build(cur)
            # SKIP LOCKED: while another runner holds this projection, we do nothing.
            # (Whether anything is parked comes with the lock, so the common case costs no query.)
            cur.execute("SELECT position, EXISTS (SELECT 1 FROM projection_parked p WHERE p.name = t.name) AS parked"
                        " FROM projection_tracking t WHERE t.name = %s FOR UPDATE SKIP LOCKED", (self.key,))
            row = cur.fetchone()
            if row is None:
                return 0
            position = row["position"]
            cur.execute(self._head)
            head = _single(cur.fetchone())["head"]
            if head <= position:
                return 0
            params: list[Any] = [position, head] + ([self._topics] if self._topics else []) + [self.batch_size]
            cur.execute(self._select, params)
            rows = cur.fetchall()
            new_position = rows[-1]["notification_id"] if len(rows) == self.batch_size else head
            parked = self._parked_among(cur, {r["originator_id"] for r in rows}) if row["parked"] else set()
            events = []
            for r in rows:
                if r["originator_id"] in parked:
                    self._park(cur, r, f"parked behind an earlier event of aggregate {r['originator_id']}")
                else:
                    events.append((r["notification_id"], self._decode(r), r))
            if isinstance(self.projection, PostgresProjection) and not careful:
                # Pipeline mode: statements go out without waiting for each answer (a handler that
                # reads waits for its own); an error surfaces at the end and re-runs the batch carefully.
                with conn.pipeline():
                    writer = PipelineWriter(conn)
                    for applied, (pos, event, _r) in enumerate(events, 1):
                        self.projection.apply(writer, event, pos)
                        self._maybe_crash(applied)
            elif isinstance(self.projection, PostgresProjection):
                for applied, (pos, event, r) in enumerate(events, 1):
                    if r["originator_id"] in parked:
                        self._park(cur, r, f"parked behind an earlier event of aggregate {r['originator_id']}")
                    else:
                        try:
                            with conn.transaction():  # a savepoint: a failing event leaves no trace
                                self.projection.apply(cur, event, pos)
                        except Exception as exc:
                            if not is_data_error(exc):
                                raise
                            self._park(cur, r, f"{type(exc).__name__}: {exc}")
                            parked.add(r["originator_id"])
                    self._maybe_crash(applied)
            else:
                self._sink([(pos, event) for pos, event, _ in events], position, new_position, careful, cur)
            cur.execute("UPDATE projection_tracking SET position = %s, updated_at = now() WHERE name = %s",
                        (new_position, self.key))
        self.last_error = None
        return max(len(rows), 1)

    def _parked_among(self, cur: Any, originators: set[Any]) -> set[Any]:
        if not originators:
            return set()
        cur.execute("SELECT DISTINCT originator_id FROM projection_parked WHERE name = %s AND originator_id = ANY(%s)",
                    (self.key, list(originators)))
        return {r["originator_id"] for r in cur.fetchall()}

    def _park(self, cur: Any, row: dict, error: str) -> None:
        # Error texts can quote the value that failed (personal data, a rejected form's content):
        # the log and the parked-events API keep the reason, not the value.
        error = _QUOTED.sub("'…'", error)
        log.error("projection %s parked event %s (%s of %s): %s", self.name, row["notification_id"], row["topic"],
                  row["originator_id"], error)
        cur.execute("INSERT INTO projection_parked (name, position, originator_id, originator_version, topic, error)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (self.key, row["notification_id"], row["originator_id"], row["originator_version"],
                     row["topic"], error[:2000]))

    def _sink(self, events: list[tuple[int, Any]], start: int, end: int, careful: bool = False,
              cur: Any = None) -> None:
        assert self.clickhouse is not None and isinstance(self.projection, ClickHouseSink)
        if careful:
            # One insert per event (its own dedup token): a row that does not fit is parked alone.
            for pos, event in events:
                try:
                    rows = list(self.projection.rows(event, pos))
                    by_table: dict[str, list] = defaultdict(list)
                    for table, row in rows:
                        by_table[table].append(row)
                    for table, table_rows in by_table.items():
                        self.clickhouse.insert(table + self.table_suffix, table_rows, self.projection.columns[table],
                                               dedup_token=f"{self.key}:{table}:{pos - 1}:{pos}")
                except Exception as exc:
                    if not is_data_error(exc):
                        raise
                    self._park(cur, {"notification_id": pos, "originator_id": event.originator_id,
                                     "originator_version": event.originator_version,
                                     "topic": type(event).__qualname__}, f"{type(exc).__name__}: {exc}")
            return
        by_table = defaultdict(list)
        for pos, event in events:
            for table, row in self.projection.rows(event, pos):
                by_table[table].append(row)
        for table, rows in by_table.items():
            self.clickhouse.insert(table + self.table_suffix, rows, self.projection.columns[table],
                                   dedup_token=f"{self.key}:{table}:{start}:{end}")
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
            cur.execute("SELECT position FROM projection_tracking WHERE name = %s FOR UPDATE", (self.key,))
            if isinstance(self.projection, PostgresProjection):
                for table in self.projection.tables:
                    cur.execute(SQL("TRUNCATE {t}").format(t=Identifier(table)))
            else:
                assert self.clickhouse is not None
                for table in self.projection.tables:
                    self.clickhouse.command(f"TRUNCATE TABLE IF EXISTS {self.clickhouse.db}.`{table}`")
            cur.execute("DELETE FROM projection_parked WHERE name = %s", (self.key,))
            cur.execute("UPDATE projection_tracking SET position = 0, updated_at = now() WHERE name = %s",
                        (self.key,))

    def has_parked(self, originator_ids: list[Any]) -> bool:
        """Whether any event of these aggregates is parked by this projection."""
        with self.store.datastore.get_connection() as conn:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM projection_parked WHERE name = %s"
                               " AND originator_id = ANY(%s)) AS parked", (self.key, list(originator_ids))).fetchone()
        return bool(_single(row)["parked"])

    def parked(self) -> list[dict[str, Any]]:
        with self.store.datastore.get_connection() as conn:
            return conn.execute("SELECT position, originator_id, originator_version, topic, error, parked_at"
                                " FROM projection_parked WHERE name = %s ORDER BY position", (self.key,)).fetchall()

    def retry_parked(self, skip: set[int] | frozenset[int] = frozenset()) -> tuple[int, int]:
        """Re-apply parked events in order (after a fix); returns (applied, still parked). An
        aggregate whose event fails again keeps it and its later events parked. Positions in
        ``skip`` are set aside for good (an operator's repair of an event no code can apply,
        logged): the aggregate's later events then apply, and its read-model version catches up,
        which is what lets the fail-closed authentication accept the subject again."""
        if not isinstance(self.projection, PostgresProjection):
            raise NotImplementedError("parked analytics rows are re-sent by rebuilding the sink")
        applied = 0
        with self.store.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT position FROM projection_tracking WHERE name = %s FOR UPDATE", (self.key,))
            events = Identifier(self.store.datastore.schema, self.store.recorder.events_table_name)
            cur.execute(SQL("SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state"
                            " FROM projection_parked p JOIN {e} e ON e.notification_id = p.position"
                            " WHERE p.name = %s ORDER BY p.position").format(e=events), (self.key,))
            failed: set[Any] = set()
            for r in cur.fetchall():
                if r["originator_id"] in failed:
                    continue
                if r["notification_id"] in skip:
                    log.warning("projection %s: parked event %s of %s set aside by an operator", self.name,
                                r["notification_id"], r["originator_id"])
                    cur.execute("DELETE FROM projection_parked WHERE name = %s AND position = %s",
                                (self.key, r["notification_id"]))
                    continue
                try:
                    with conn.transaction():
                        self.projection.apply(cur, self._decode(r), r["notification_id"])
                except Exception as exc:
                    if not is_data_error(exc):
                        raise
                    failed.add(r["originator_id"])
                    cur.execute("UPDATE projection_parked SET error = %s WHERE name = %s AND position = %s",
                                (_QUOTED.sub("'…'", f"{type(exc).__name__}: {exc}")[:2000], self.key,
                                 r["notification_id"]))
                    continue
                cur.execute("DELETE FROM projection_parked WHERE name = %s AND position = %s",
                            (self.key, r["notification_id"]))
                applied += 1
            cur.execute("SELECT count(*) AS n FROM projection_parked WHERE name = %s", (self.key,))
            remaining = _single(cur.fetchone())["n"]
        return applied, remaining

    def position(self) -> int:
        with self.store.datastore.get_connection() as conn:
            row = conn.execute("SELECT position FROM projection_tracking WHERE name = %s",
                               (self.key,)).fetchone()
        return row["position"] if row else 0

    def status(self) -> ProjectionStatus:
        """Position, lag, parked events, the version built, and a blue/green build under way."""
        with self.store.datastore.get_connection() as conn:
            row = conn.execute("SELECT t.position, t.version, (SELECT count(*) FROM projection_parked p"
                               " WHERE p.name = t.name) AS parked, b.position AS build_position,"
                               " b.version AS build_version FROM projection_tracking t"
                               " LEFT JOIN projection_tracking b ON b.name = t.name || %s WHERE t.name = %s",
                               (BUILD_SUFFIX, self.key)).fetchone()
        head = self.store.head()
        if row is None:
            return ProjectionStatus(self.name, self.projection.kind, 0, head, self.last_error)
        rebuild = None if row["build_version"] is None else RebuildProgress(
            row["build_version"], row["build_position"], head)
        return ProjectionStatus(self.name, self.projection.kind, row["position"], head, self.last_error,
                                row["parked"], row["version"], rebuild)

