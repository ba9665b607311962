"""Application recorder with group commit, one round trip per commit, and the audit chain.

The library's recorder takes an EXCLUSIVE lock on the events table for each
transaction so that positions are issued in commit order (readers never skip a
position that commits later). That lock serialises commits: every writer waits
for the previous writer's fsync. Two things make appends fast despite it (ADR 0002):

* Group commit: concurrent ``insert_events`` calls in one process are gathered
  by whichever caller arrives first (the leader) and written in one transaction.
  A batch that violates the (originator_id, originator_version) key is retried
  request by request, so only the stale writer fails.
* One round trip: the leader remembers the chain head it wrote last, assigns the
  next positions itself, computes the HMAC chain in Python and calls one SQL
  function that locks, checks the head is still what it expected, inserts events
  and chain entries and notifies. If another process wrote in between, the head
  check fails and the batch is redone inside an explicit locked transaction.
* Idempotency keys (ADR 0025): a request carrying a key (idempotency.py) has its key's row
  written by the same function call as its first events, so the row exists exactly when they
  do; a second request with the key breaks the row's primary key and fails alone (KeyTaken).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier

from infrastructure.engines.postgres import DatabaseUnavailable
from infrastructure.eventstore.chain import GENESIS, ChainTable, link_hash
from infrastructure.eventstore.idempotency import (
    IdempotencyKeys,
    KeyClaim,
    KeyTable,
    KeyTaken,
    current_claim,
    fingerprint_key,
)
from infrastructure.eventstore.schema import lock_schema

GATHER_SECONDS = 0.0005  # longest a leader waits for the writers of its previous batch


@dataclass
class _Request:
    events: Sequence[StoredEvent]
    claim: KeyClaim | None = None  # captured on the caller's thread: the leader runs on another
    ids: list[int] | None = None
    error: BaseException | None = None
    done: bool = False
    taken: bool = False  # by a leader, who settles it


@dataclass
class CommitStats:
    transactions: int = 0
    events: int = 0
    fallbacks: int = 0
    head_misses: int = 0
    listeners: list = field(default_factory=list)


class LedgerRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str, chain_key: bytes,
                 group_commit: bool = True, max_batch_events: int = 2000):
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain = ChainTable(datastore.schema, events_table_name)
        key_table = KeyTable(datastore.schema, events_table_name)
        self.keys = IdempotencyKeys(datastore, key_table, fingerprint_key(chain_key))
        self._chain_key = chain_key
        self.group_commit = group_commit
        self.max_batch_events = max_batch_events
        self._cv = threading.Condition()
        self._queue: list[_Request] = []
        self._leader = False
        self._last_batch_requests = 1
        self._head: tuple[int, bytes] | None = None  # (position, hash) this process wrote or read last
        self.wait_seconds: float | None = None  # longest a writer waits in the queue (None: no limit)
        self.stats = CommitStats()
        events = Identifier(datastore.schema, events_table_name)
        chain = Identifier(datastore.schema, self.chain.name)
        function = Identifier(datastore.schema, f"{events_table_name}_append")
        self.sql_create_statements.append(self.chain.create_sql)
        self.sql_create_statements.extend(key_table.create_sql)
        # A new signature (the key arrays) is a new overload: a process of the previous release
        # keeps calling the old one during a rolling deploy.
        self.sql_create_statements.append(SQL(
            "CREATE OR REPLACE FUNCTION {fn}(expected_head bigint, ids {idtype}[], versions bigint[],"
            " topics text[], states bytea[], hashes bytea[], lock_timeout text, key_owners text[],"
            " key_values text[], key_requests text[], key_prints bytea[], key_offsets bigint[], key_ttls integer[])"
            " RETURNS TABLE(head bigint, ok boolean) LANGUAGE plpgsql AS $body$"
            " DECLARE current_head bigint; current_hash bytea;"
            " BEGIN"
            "  PERFORM set_config('lock_timeout', lock_timeout, true);"
            "  LOCK TABLE {events} IN EXCLUSIVE MODE;"
            "  SELECT c.notification_id, c.hash INTO current_head, current_hash FROM {chain} c"
            "   ORDER BY c.notification_id DESC LIMIT 1;"
            "  IF coalesce(current_head, 0) <> expected_head THEN"
            "   RETURN QUERY SELECT coalesce(current_head, 0), false; RETURN;"
            "  END IF;"
            "{keys}"
            "  INSERT INTO {events} (notification_id, originator_id, originator_version, topic, state)"
            "   SELECT expected_head + t.i, t.oid, t.ver, t.topic, t.state"
            "   FROM unnest(ids, versions, topics, states) WITH ORDINALITY AS t(oid, ver, topic, state, i);"
            "  INSERT INTO {chain} (notification_id, prev_notification_id, hash)"
            "   SELECT expected_head + t.i, expected_head + t.i - 1, t.h"
            "   FROM unnest(hashes) WITH ORDINALITY AS t(h, i);"
            "  NOTIFY {channel};"
            "  RETURN QUERY SELECT expected_head + array_length(ids, 1), true;"
            " END $body$"
        ).format(fn=function, idtype=SQL(datastore.originator_id_type), events=events, chain=chain,
                 keys=key_table.append_sql(), channel=Identifier(self.channel_name)))
        self._key_constraint = key_table.constraint
        # Rendered once: composing SQL objects on every call costs more than the insert.
        self._append_sql = SQL(
            "SELECT head, ok FROM {fn}(%s, %b, %b, %b, %b, %b, %s,"
            " %b::text[], %b::text[], %b::text[], %b::bytea[], %b::bigint[], %b::integer[])").format(
            fn=function).as_string(None)
        self._head_sql = self.chain.head_sql.as_string(None)
        self._lock_sql = SQL("LOCK TABLE {events} IN EXCLUSIVE MODE").format(events=events).as_string(None)
        self._lock_timeout = f"{datastore.lock_timeout}s"

    def _create_table(self, curs: Any) -> None:
        # Several processes starting on an empty database would race on CREATE ... IF NOT EXISTS
        # (which is not safe under concurrency: a unique violation in pg_type): one at a time.
        lock_schema(curs)
        super()._create_table(curs)

    # -- the library calls this from Application.save() -------------------------
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        claim = current_claim.get()
        if claim is not None and claim.collided:
            raise KeyTaken(f"idempotency key {claim.key!r} was used by a request that committed first")
        request = _Request(stored_events, claim if claim is not None and claim.writes_now() else None)
        if not self.group_commit:
            self._commit([request])
            return self._result(request)
        with self._cv:
            self._queue.append(request)
            give_up = None if self.wait_seconds is None else time.monotonic() + self.wait_seconds
            while not request.done and self._leader:
                remaining = None if give_up is None or request.taken else give_up - time.monotonic()
                if remaining is not None and remaining <= 0:
                    # Leave the queue, so it can never be written after its caller has answered
                    # (a request a leader took is settled by that leader, within its own bounds).
                    self._queue[:] = [r for r in self._queue if r is not request]
                    raise DatabaseUnavailable("the event store did not accept the write in time")
                self._cv.wait(remaining)
            if request.done:
                return self._result(request)
            self._leader = True
            self._gather()
            batch = self._take_batch()
        try:
            self._commit(batch)
        finally:
            with self._cv:
                self._leader = False
                self._cv.notify_all()
        return self._result(request)

    def _gather(self) -> None:
        # Writers whose requests were in the previous batch are about to come back; a short
        # wait for them doubles the batch. A lone writer (last batch of 1) never waits.
        expected = min(self._last_batch_requests, 256)
        deadline = time.perf_counter() + GATHER_SECONDS
        while len(self._queue) < expected:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            self._cv.wait(remaining)

    def _take_batch(self) -> list[_Request]:
        batch: list[_Request] = []
        size = 0
        while self._queue and (not batch or size + len(self._queue[0].events) <= self.max_batch_events):
            request = self._queue.pop(0)
            request.taken = True
            batch.append(request)
            size += len(request.events)
        self._last_batch_requests = len(batch)
        return batch

    @staticmethod
    def _result(request: _Request) -> list[int]:
        if request.error is not None:
            raise request.error
        assert request.ids is not None
        return request.ids

    # -- one transaction for many requests --------------------------------------
    def _commit(self, batch: list[_Request]) -> None:
        try:
            self._write(batch)
        except IntegrityError as exc:
            if len(batch) == 1:
                batch[0].error = self._key_taken(batch[0], exc) or exc
            else:
                # Someone in the batch is stale: retry each alone so only they fail.
                self.stats.fallbacks += 1
                for request in batch:
                    self._commit([request])
        except Exception as exc:  # handed to every waiting caller
            self._head = None
            for request in batch:
                request.error = exc
        for request in batch:
            request.done = True

    def _key_taken(self, request: _Request, exc: IntegrityError) -> KeyTaken | None:
        diag = getattr(exc.__cause__, "diag", None)
        if request.claim is None or getattr(diag, "constraint_name", None) != self._key_constraint:
            return None
        request.claim.collided = True
        taken = KeyTaken(f"idempotency key {request.claim.key!r} was used by a request that committed first")
        taken.__cause__ = exc
        return taken

    def _write(self, batch: list[_Request]) -> None:
        events = [e for r in batch for e in r.events]
        keys = _KeyArrays(batch)
        with self.datastore.get_connection() as conn:
            head = self._head
            if head is not None:
                with conn.cursor() as cur:
                    new_head = self._append(cur, head, events, keys)
            if head is None or new_head is None:
                # Another process wrote since our last commit (or we never did): read the
                # head and append inside one transaction that holds the lock throughout.
                self.stats.head_misses += 1
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute("SELECT set_config('lock_timeout', %s, true)", (self._lock_timeout,))
                    cur.execute(self._lock_sql)
                    cur.execute(self._head_sql)
                    row = cur.fetchone()
                    head = (row["notification_id"], bytes(row["hash"])) if row else (0, GENESIS)
                    new_head = self._append(cur, head, events, keys)
                    if new_head is None:
                        raise RuntimeError("event chain head moved while the table was locked")
        self._head = new_head
        first = head[0] + 1
        self.stats.transactions += 1
        self.stats.events += len(events)
        offset = 0
        for request in batch:
            request.ids = list(range(first + offset, first + offset + len(request.events)))
            offset += len(request.events)
            if request.claim is not None:
                request.claim.position = request.ids[0]
        for listener in self.stats.listeners:
            listener(len(events), new_head[0])

    def _append(self, cur: Any, head: tuple[int, bytes], events: list[StoredEvent],
                keys: _KeyArrays) -> tuple[int, bytes] | None:
        """Call the append function; None when the stored head is not the one we expected."""
        position, prev_hash = head
        hashes = []
        for e in events:
            position += 1
            prev_hash = link_hash(self._chain_key, prev_hash, position, e.originator_id,
                                  e.originator_version, e.topic, e.state)
            hashes.append(prev_hash)
        cur.execute(self._append_sql, (
            head[0], [e.originator_id for e in events], [e.originator_version for e in events],
            [e.topic for e in events], [e.state for e in events], hashes, self._lock_timeout,
            keys.owners, keys.values, keys.requests, keys.prints, keys.offsets, keys.ttls), prepare=True)
        row = cur.fetchone()
        if not row["ok"]:  # another process moved the head since we last wrote
            return None
        return row["head"], prev_hash


class _KeyArrays:
    """The key rows of a batch as the append function takes them: one per request that claims
    a key, at the offset of its first event within the batch."""

    def __init__(self, batch: list[_Request]):
        self.owners: list[str] = []
        self.values: list[str] = []
        self.requests: list[str] = []
        self.prints: list[bytes] = []
        self.offsets: list[int] = []
        self.ttls: list[int] = []
        offset = 0
        for request in batch:
            claim = request.claim
            if claim is not None and claim.owner is not None:
                self.owners.append(claim.owner)
                self.values.append(claim.key)
                self.requests.append(claim.request)
                self.prints.append(claim.fingerprint)
                self.offsets.append(offset)
                self.ttls.append(claim.ttl_seconds)
            offset += len(request.events)
