"""Application recorder with group commit and the audit hash chain.

The library's recorder takes an EXCLUSIVE lock on the events table for each
transaction so that positions are issued in commit order (readers never skip a
position that commits later). That lock serialises commits: every writer waits
for the previous writer's fsync. Here concurrent ``insert_events`` calls in one
process are gathered by whichever caller arrives first (the leader) and written
in one transaction: one lock, one fsync, many commands. A batch that violates
the (originator_id, originator_version) key is rolled back and its requests are
retried one by one, so only the stale writer fails. See docs/adr/0002.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier

from infrastructure.eventstore.chain import GENESIS, ChainTable, link_hash


@dataclass
class _Request:
    events: Sequence[StoredEvent]
    ids: list[int] | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class CommitStats:
    transactions: int = 0
    events: int = 0
    fallbacks: int = 0
    listeners: list = field(default_factory=list)


class LedgerRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str, chain_key: bytes,
                 group_commit: bool = True, max_batch_events: int = 2000):
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain = ChainTable(datastore.schema, events_table_name)
        self.sql_create_statements.append(self.chain.create_sql)
        self._chain_key = chain_key
        self.group_commit = group_commit
        self.max_batch_events = max_batch_events
        self._cv = threading.Condition()
        self._queue: list[_Request] = []
        self._leader = False
        self.stats = CommitStats()
        schema = Identifier(datastore.schema)
        self._begin_sql = SQL("SET LOCAL lock_timeout = '{s}s'; LOCK TABLE {schema}.{t} IN EXCLUSIVE MODE; NOTIFY {ch}").format(
            s=datastore.lock_timeout, schema=schema, t=Identifier(events_table_name),
            ch=Identifier(self.channel_name))
        self._insert_sql = SQL(
            "INSERT INTO {schema}.{t} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%s::{idtype}[], %s::bigint[], %s::text[], %s::bytea[])"
            " RETURNING notification_id, originator_id, originator_version"
        ).format(schema=schema, t=Identifier(events_table_name),
                 idtype=SQL(datastore.originator_id_type))

    # -- the library calls this from Application.save() -------------------------
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        if not self.group_commit:
            return self._commit([_Request(stored_events)], raise_single=True)[0].ids
        request = _Request(stored_events)
        with self._cv:
            self._queue.append(request)
            while not request.done and self._leader:
                self._cv.wait()
            if request.done:
                return self._result(request)
            self._leader = True
            batch = self._take_batch()
        try:
            self._commit(batch)
        finally:
            with self._cv:
                self._leader = False
                self._cv.notify_all()
        return self._result(request)

    def _take_batch(self) -> list[_Request]:
        batch, size = [], 0
        while self._queue and (not batch or size + len(self._queue[0].events) <= self.max_batch_events):
            request = self._queue.pop(0)
            batch.append(request)
            size += len(request.events)
        return batch

    @staticmethod
    def _result(request: _Request) -> list[int]:
        if request.error is not None:
            raise request.error
        assert request.ids is not None
        return request.ids

    # -- one transaction for many requests --------------------------------------
    def _commit(self, batch: list[_Request], raise_single: bool = False) -> list[_Request]:
        try:
            self._write(batch)
        except IntegrityError as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                # Someone in the batch is stale: retry each alone so only they fail.
                self.stats.fallbacks += 1
                for request in batch:
                    self._commit([request])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            for request in batch:
                request.error = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
        for request in batch:
            request.done = True
        if raise_single and batch[0].error is not None:
            raise batch[0].error
        return batch

    def _write(self, batch: list[_Request]) -> None:
        events = [e for r in batch for e in r.events]
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(self._begin_sql, prepare=False)
            cur.execute(self.chain.head_sql, prepare=True)
            head = cur.fetchone()
            prev_pos, prev_hash = (head["notification_id"], bytes(head["hash"])) if head else (0, GENESIS)
            cur.execute(self._insert_sql, (
                [e.originator_id for e in events], [e.originator_version for e in events],
                [e.topic for e in events], [e.state for e in events]), prepare=True)
            position = {(str(r["originator_id"]), r["originator_version"]): r["notification_id"]
                        for r in cur.fetchall()}
            # RETURNING order is not promised by SQL, so positions are matched by key.
            ids = [position[(str(e.originator_id), e.originator_version)] for e in events]
            chained, prevs, hashes = [], [], []
            for pos, e in sorted(zip(ids, events), key=lambda pair: pair[0]):
                chained.append(pos)
                prev_hash = link_hash(self._chain_key, prev_hash, pos, e.originator_id,
                                      e.originator_version, e.topic, e.state)
                prevs.append(prev_pos)
                hashes.append(prev_hash)
                prev_pos = pos
            cur.execute(self.chain.insert_sql, (chained, prevs, hashes), prepare=True)
        self.stats.transactions += 1
        self.stats.events += len(events)
        offset = 0
        for request in batch:
            request.ids = ids[offset: offset + len(request.events)]
            offset += len(request.events)
        for listener in self.stats.listeners:
            listener(len(events), max(ids))
