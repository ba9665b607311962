"""Builds the shared event store: one datastore, one recorder, one mapper for every context.

All bounded contexts write to one table so that a single position orders every
fact in the system: read-your-writes, projections and the audit chain use it.
"""
from __future__ import annotations

from typing import Any

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    Mapper,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresDatastore
from psycopg.conninfo import conninfo_to_dict

from infrastructure.eventstore.chain import ChainProblem, VerifyReport, verify_rows
from infrastructure.eventstore.recorder import LedgerRecorder
from infrastructure.eventstore.sealing import SealedAsAesGcm, SealingEventStore, SealingMapper
from infrastructure.eventstore.transcoder import OrjsonTranscoder
from infrastructure.privacy.keyring import Keyring
from infrastructure.privacy.keywrap import LocalKeyWrapper


def datastore_from_url(url: str, *, pool_size: int, lock_timeout: int) -> PostgresDatastore:
    params = conninfo_to_dict(url)

    def part(key: str, default: str) -> str:
        # A URL's parts parse as text; conninfo_to_dict's type also allows the ints and None of kwargs.
        value = params.get(key)
        return default if value is None else str(value)

    return PostgresDatastore(
        dbname=part("dbname", "postgres"),
        host=part("host", "127.0.0.1"),
        port=part("port", "5432"),
        user=part("user", "postgres"),
        password=part("password", ""),
        pool_size=pool_size,
        max_overflow=pool_size,
        lock_timeout=lock_timeout,
        pre_ping=False,  # a broken connection fails one call and is discarded by the pool
        connect_timeout=10,
    )


class EventStore:
    """The one event store of a process (owned by the composition root)."""

    def __init__(self, database_url: str, *, events_table: str, chain_key: bytes, pool_size: int = 8,
                 group_commit: bool = True, max_batch_events: int = 2000, lock_timeout: int = 10,
                 key_wrapper: Any = None, key_cache_seconds: float = 60.0):
        self.datastore = datastore_from_url(database_url, pool_size=pool_size, lock_timeout=lock_timeout)
        self.recorder = LedgerRecorder(
            self.datastore, events_table_name=events_table, chain_key=chain_key,
            group_commit=group_commit, max_batch_events=max_batch_events,
        )
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

    def close(self) -> None:
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
        self._walk = store.recorder.chain.walk_sql

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

    def verify(self, progress: Any = None) -> VerifyReport:
        problems: list[ChainProblem] = []
        checked = 0
        with self.store.datastore.get_connection() as conn, conn.transaction():
            # A named (server-side) cursor streams the whole log in constant memory.
            with conn.cursor(name="audit_verify") as cur:
                cur.itersize = 5000
                cur.execute(self._walk)

                def rows() -> Any:
                    for i, row in enumerate(cur, 1):
                        if progress and i % 5000 == 0:
                            progress(i)
                        yield row

                for item in verify_rows(self.store.chain_key, rows()):
                    if isinstance(item, int):
                        checked = item
                    else:
                        problems.append(item)
        return VerifyReport(checked=checked, problems=problems)
