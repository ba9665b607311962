"""Streams chain rows with their events to the verify walk.

A named cursor is read in batches by a thread of its own while the caller computes MACs, so
the server produces the next batch while the client works on the current one (a binary COPY
overlaps too, but decoding its rows in psycopg costs the client half again as much CPU).
Events that have no chain row are looked for only when the count of events after the start
differs from what the walk saw, in the same snapshot.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from psycopg.rows import tuple_row

from infrastructure.eventstore.chain import ChainTable

BATCH = 10_000  # rows per fetch: round trips vanish beside the MACs, memory stays small
_DONE = object()


class ChainWalk:
    def __init__(self, datastore: PostgresDatastore, chain: ChainTable, after: int):
        self.datastore, self.chain, self.after = datastore, chain, after
        self.unchained: list[int] = []  # positions of events without a chain row (after the walk)
        self._batches: queue.Queue[Any] = queue.Queue(maxsize=4)
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._fetch, name="audit-verify-fetch", daemon=True)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """The walk's rows in position order; stops the fetching thread however it ends."""
        self._thread.start()
        try:
            while (batch := self._batches.get()) is not _DONE:
                yield from batch
        finally:
            self._stop.set()
            self._thread.join()
        if self._failure is not None:
            raise self._failure

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._batches.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _fetch(self) -> None:
        try:
            with self.datastore.get_connection() as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot for all
                conn.execute("SET LOCAL jit = off")  # compiling a plain merge join costs more than it saves
                with_events = 0
                with conn.cursor(name="audit_verify", row_factory=tuple_row, binary=True) as cur:
                    cur.execute(self.chain.walk_sql, (self.after,))
                    while batch := cur.fetchmany(BATCH):
                        with_events += sum(row[7] is not None for row in batch)
                        if not self._put(batch):
                            return
                row = conn.execute(self.chain.count_events_sql, (self.after,)).fetchone()
                if row is not None and row["count"] != with_events:
                    self.unchained = [r["notification_id"]
                                      for r in conn.execute(self.chain.unchained_sql, (self.after,))]
        except BaseException as exc:  # handed to the walking thread, which raises it
            self._failure = exc
        finally:
            self._put(_DONE)
