"""Builds the shared event store: one datastore, one recorder, one mapper for every context.

All bounded contexts write to one table so that a single position orders every
fact in the system: read-your-writes, projections and the audit chain use it.
"""
from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    Mapper,
    OperationalError,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresDatastore
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolTimeout

from infrastructure.engines.health import EngineHealth, Watch
from infrastructure.engines.postgres import DatabaseUnavailable, PostgresProbe, libpq_timeouts
from infrastructure.eventstore.chain import GENESIS, ChainProblem, VerifyReport, unchained, verify_rows
from infrastructure.eventstore.recorder import LedgerRecorder
from infrastructure.eventstore.sealing import SealedAsAesGcm, SealingEventStore, SealingMapper
from infrastructure.eventstore.transcoder import OrjsonTranscoder
from infrastructure.eventstore.walk import ChainWalk
from infrastructure.privacy.keyring import Keyring
from infrastructure.privacy.keywrap import LocalKeyWrapper

PROGRESS_EVERY = 20_000  # rows between progress callbacks of a verify


class LedgerDatastore(PostgresDatastore):
    """The library's datastore, failing fast while PostgreSQL is down (ADR 0026).

    While the watch counts the database down, asking for a connection raises
    DatabaseUnavailable at once: requests answer 503 in milliseconds instead of holding a
    thread (and queueing the requests behind it) for the whole pool wait. When the watch
    sees the database go, the connections in use are broken (their threads may be blocked on
    a server that stopped answering) and the idle ones are discarded: after an outage no
    request meets a connection to the server that went away.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.health = EngineHealth("PostgreSQL")
        self._in_use: set[Any] = set()
        self._in_use_lock = threading.Lock()

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        if self.health.checked and not self.health.up:
            raise DatabaseUnavailable(f"PostgreSQL is unavailable ({self.health.reason})")
        acquired = False
        try:
            with super().get_connection() as conn:
                acquired = True
                with self._in_use_lock:
                    self._in_use.add(conn)
                try:
                    yield conn
                finally:
                    with self._in_use_lock:
                        self._in_use.discard(conn)
        except OperationalError as exc:
            # The pool waited its whole timeout: not an error the library should retry (ten
            # times, each waiting again), but the end of this request's wait.
            if not acquired and isinstance(exc.__cause__, PoolTimeout):
                raise DatabaseUnavailable(f"no PostgreSQL connection within {self.pool.timeout:g} s") from exc
            raise

    def interrupt(self) -> None:
        """Break every connection in use and drain the pool. Shutting the socket down (on a
        duplicate of its descriptor, under the lock that keeps the connection checked out)
        wakes a thread blocked on it with an error; the pool then replaces the connection."""
        with self._in_use_lock:
            for conn in self._in_use:
                try:
                    with socket.socket(fileno=os.dup(conn.pgconn.socket)) as sock:
                        sock.shutdown(socket.SHUT_RDWR)
                except (OSError, psycopg.Error):
                    pass  # closed already
        if not self.pool.closed:
            self.pool.drain()


def datastore_from_url(url: str, *, pool_size: int, lock_timeout: int, timeout: float = 10.0) -> LedgerDatastore:
    """``timeout`` bounds each wait on PostgreSQL: for a pooled connection, for a new
    connection, and (tcp_user_timeout) for sent data to be acknowledged (ADR 0026)."""
    params = conninfo_to_dict(url)

    def part(key: str, default: str) -> str:
        # A URL's parts parse as text; conninfo_to_dict's type also allows the ints and None of kwargs.
        value = params.get(key)
        return default if value is None else str(value)

    datastore = LedgerDatastore(
        dbname=part("dbname", "postgres"),
        host=part("host", "127.0.0.1"),
        port=part("port", "5432"),
        user=part("user", "postgres"),
        password=part("password", ""),
        pool_size=pool_size,
        max_overflow=pool_size,
        lock_timeout=lock_timeout,
        pre_ping=False,  # a broken connection fails one call and is discarded; an outage drains them all
        connect_timeout=timeout,  # the library passes it to the pool as its wait for a connection
    )
    assert isinstance(datastore.pool.kwargs, dict)
    datastore.pool.kwargs.update(libpq_timeouts(timeout))
    # The pool retries a failed connection with a doubling delay until reconnect_timeout (5 min
    # by default), so after a long outage its next attempt could be half a minute away. Giving
    # up after `timeout` instead leaves no attempt pending: the first request after the
    # outage grows the pool at once.
    datastore.pool.reconnect_timeout = timeout
    return datastore


class EventStore:
    """The one event store of a process (owned by the composition root)."""

    def __init__(self, database_url: str, *, events_table: str, chain_key: bytes, pool_size: int = 8,
                 group_commit: bool = True, max_batch_events: int = 2000, lock_timeout: int = 10,
                 timeout: float = 10.0, key_wrapper: Any = None, key_cache_seconds: float = 15.0):
        self.timeout = timeout
        self.datastore = datastore_from_url(database_url, pool_size=pool_size, lock_timeout=lock_timeout,
                                            timeout=timeout)
        self.recorder = LedgerRecorder(
            self.datastore, events_table_name=events_table, chain_key=chain_key,
            group_commit=group_commit, max_batch_events=max_batch_events,
        )
        # A writer waiting in the group-commit queue gives up after the same bound (ADR 0026).
        self.recorder.wait_seconds = timeout
        self.health = self.datastore.health
        self._watch: Watch | None = None
        self.recorder.create_table()
        self.transcoder = OrjsonTranscoder()
        # Personal fields are sealed per data subject (ADR 0028). A store built by hand (benchmarks)
        # wraps subject keys under its chain key; the composition root passes the master key's wrapper.
        self.keyring = Keyring(self.datastore, key_wrapper or LocalKeyWrapper(chain_key),
                               cache_seconds=key_cache_seconds)
        self.keyring.create()
        self.transcoder.register(SealedAsAesGcm(self.keyring, self.transcoder))
        self.mapper: Mapper[Any] = SealingMapper(self.transcoder, self.keyring)
        self.chain_key = chain_key
        from psycopg.sql import SQL, Identifier

        self._versions = SQL(
            "SELECT i.id AS originator_id, (SELECT max(e.originator_version) FROM {e} e WHERE e.originator_id = i.id)"
            " AS version FROM unnest(%s::uuid[]) AS i(id)").format(
            e=Identifier(self.datastore.schema, events_table))
        self._latest = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {e} WHERE originator_id = %s"
            " AND topic = %s ORDER BY originator_version DESC LIMIT 1").format(
            e=Identifier(self.datastore.schema, events_table))

    def latest(self, originator_id: Any, topic: str) -> Any | None:
        """The newest event of one topic of an aggregate (None: there is none): for facts that
        change rarely and must never be read stale, such as the department a flow belongs to."""
        from eventsourcing.persistence import StoredEvent

        with self.datastore.get_connection() as conn:
            row = conn.execute(self._latest, (originator_id, topic)).fetchone()
        if row is None:
            return None
        return self.mapper.to_domain_event(StoredEvent(
            originator_id=row["originator_id"], originator_version=row["originator_version"],
            topic=row["topic"], state=bytes(row["state"])))

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def versions(self, ids: list[Any]) -> dict[Any, int]:
        """The stored version of each aggregate (absent: no events). One primary-key scan per id:
        authentication compares it with the read models' version of the same subject."""
        if not ids:
            return {}
        with self.datastore.get_connection() as conn:
            rows = conn.execute(self._versions, (list(ids),)).fetchall()
        return {r["originator_id"]: r["version"] for r in rows if r["version"] is not None}

    def watch(self, interval: float) -> None:
        """Probe PostgreSQL every ``interval`` seconds (on a connection of its own, giving up
        after a third of the timeout): readiness reads the state, requests fail fast while it
        is down, and the connections in use are broken when it goes."""
        assert isinstance(self.datastore.pool.kwargs, dict)
        probe = PostgresProbe(self.datastore.pool.kwargs, timeout=self.timeout / 3)
        self._watch = Watch(self.health, probe, interval, on_down=self.datastore.interrupt)
        self._watch.start()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            probe = self._watch.probe
            assert isinstance(probe, PostgresProbe)
            probe.close()
        self.datastore.close()


class SharedStoreFactory(InfrastructureFactory[TrackingRecorder]):
    """Hands every Application the shared recorder and mapper instead of building its own."""

    def __init__(self, env: Any, store: EventStore):
        super().__init__(env)
        self.store = store

    def mapper(self, transcoder: Any = None, mapper_class: Any = None) -> Mapper[Any]:
        return self.store.mapper

    def event_store(self, mapper: Mapper[Any] | None = None,
                    recorder: AggregateRecorder | None = None) -> SealingEventStore:
        # Personal values of a whole save get their subjects' keys in one go (ADR 0028).
        return SealingEventStore(mapper=mapper or self.store.mapper, recorder=recorder or self.store.recorder)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        raise NotImplementedError("snapshots are not used; aggregates are short-lived")

    def application_recorder(self) -> ApplicationRecorder:
        return self.store.recorder

    def tracking_recorder(self, tracking_recorder_class: Any = None) -> TrackingRecorder:
        raise NotImplementedError("projections track positions in projection_tracking")

    def process_recorder(self) -> ProcessRecorder:
        raise NotImplementedError

    def close(self) -> None:  # the composition root closes the shared store once
        pass


def _reporting(rows: Iterator[tuple[Any, ...]], progress: Any) -> Iterator[tuple[Any, ...]]:
    for n, row in enumerate(rows, 1):
        if not n % PROGRESS_EVERY:
            progress(n)
        yield row


class EventLog:
    """Read access to stored events for audit: positions, trails and chain verification."""

    def __init__(self, store: EventStore):
        self.store = store
        schema = store.datastore.schema
        table = store.recorder.events_table_name
        from psycopg.sql import SQL, Identifier

        self._trail = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {e}"
            " WHERE originator_id = %s ORDER BY originator_version"
        ).format(e=Identifier(schema, table))
        chain = store.recorder.chain
        self._chain_at, self._chain_head, self._last = chain.at_sql, chain.head_sql, chain.last_sql

    def trail(self, aggregate_id: Any) -> list[tuple[int, Any]]:
        """(position, domain event) of one aggregate, oldest first."""
        from eventsourcing.persistence import StoredEvent

        with self.store.datastore.get_connection() as conn:
            rows = conn.execute(self._trail, (aggregate_id,)).fetchall()
        return [
            (r["notification_id"], self.store.mapper.to_domain_event(StoredEvent(
                originator_id=r["originator_id"], originator_version=r["originator_version"],
                topic=r["topic"], state=bytes(r["state"]))))
            for r in rows
        ]

    def chain_hashes(self, positions: list[int]) -> dict[int, bytes]:
        """The chain hash stored at each position (absent: no chain row there)."""
        with self.store.datastore.get_connection() as conn:
            rows = conn.execute(self._chain_at, (positions,)).fetchall()
        return {r["notification_id"]: bytes(r["hash"]) for r in rows}

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Across processes, one holder at a time: a session advisory lock on a connection kept
        for the duration (released by the server too if this process dies)."""
        with self.store.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (name,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (name,))

    def chain_head(self) -> tuple[int, bytes] | None:
        with self.store.datastore.get_connection() as conn:
            row = conn.execute(self._chain_head).fetchone()
        return None if row is None else (row["notification_id"], bytes(row["hash"]))

    def last_position(self) -> int:
        """The newest position holding an event or a chain row (0: empty store)."""
        with self.store.datastore.get_connection() as conn:
            row = conn.execute(self._last).fetchone()
        return int(row["greatest"] or 0) if row else 0

    def verify(self, progress: Any = None, *, after: int = 0, after_hash: bytes = GENESIS) -> VerifyReport:
        """Walk the chain behind ``after`` (0: from the first event; else a checkpoint's position
        whose stored hash is ``after_hash``)."""
        problems: list[ChainProblem] = []
        checked = 0
        walk = ChainWalk(self.store.datastore, self.store.recorder.chain, after)
        rows = walk.rows()
        if progress:
            rows = _reporting(rows, progress)
        for item in verify_rows(self.store.chain_key, rows, after=after, after_hash=after_hash):
            if isinstance(item, int):
                checked = item
            else:
                problems.append(item)
        problems += [unchained(position) for position in walk.unchained]
        checked += len(walk.unchained)
        problems.sort(key=lambda p: p.position)
        return VerifyReport(checked=checked, problems=problems)
