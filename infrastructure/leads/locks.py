"""Turns of a business line across processes: a PostgreSQL session advisory lock per line, so
intake batches and recycling of one line do not race on its rule book (ADR 0010, review M1)."""
from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOCK_WAIT = 10.0  # seconds a batch waits for its line's advisory lock before going on unlocked


class LineTurns:
    def __init__(self, datastore: Any, wait: float = LOCK_WAIT):
        self.datastore, self.wait = datastore, wait

    @contextmanager
    def turn(self, business_line: str) -> Iterator[None]:
        """Tried with jittered backoff, so a waiter holds no pool connection. Past ``wait``
        seconds the batch goes on unlocked: optimistic concurrency (with backoff) still decides."""
        key = int.from_bytes(hashlib.blake2b(f"ledgerflow:leads:{business_line}".encode(), digest_size=8).digest(),
                             "big", signed=True)
        deadline, delay = time.monotonic() + self.wait, 0.002
        while True:
            with self.datastore.get_connection() as conn:
                row = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,)).fetchone()
                if row["ok"]:
                    try:
                        yield
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                    return
            if time.monotonic() > deadline:
                yield
                return
            time.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, 0.1)
