"""Idempotency keys, stored in the same transaction as the events of the request that used them.

A client that sends ``Idempotency-Key`` on a command may retry it without doing the work twice
(ADR 0025). The HTTP layer puts a :class:`KeyClaim` into :data:`current_claim` for the request;
the recorder (recorder.py) writes the key's row inside the transaction that appends the
request's first events, so a retry after a crash, a timeout or a database outage finds it
exactly when the events exist. Two concurrent requests with one key cannot both commit: the
second one's transaction breaks the key's primary key and fails alone (:class:`KeyTaken`).
After the answer is built, the HTTP layer stores it on the row for retries to replay.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from contextvars import ContextVar
from dataclasses import dataclass

from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier


@dataclass
class KeyClaim:
    """One request's key: who owns it (None until authentication names them), what the request
    was (method, path and an HMAC of the request and its canonical body) and what its first save
    wrote."""

    key: str
    request: str                      # "POST /api/v1/leads/intake", for the operator and the 422 detail
    fingerprint: bytes
    ttl_seconds: int
    owner: str | None = None
    looked_up: bool = False           # the key's row was looked up for a retry (after authorisation)
    position: int | None = None       # first event position: the row exists from then on
    collided: bool = False            # another request with this key committed first
    closed: bool = False              # the answer is out: later saves (background work) are not the request's

    def writes_now(self) -> bool:
        """Whether the next save must write the key's row (only the request's first save does)."""
        return self.owner is not None and self.position is None and not self.closed


# Set by the HTTP layer for the duration of one request; FastAPI copies the context into the
# thread a sync endpoint runs in, so the recorder reads it on the thread that saves.
current_claim: ContextVar[KeyClaim | None] = ContextVar("idempotency_claim", default=None)


class KeyTaken(Exception):
    """The key's row was committed by another request: this request's events were not stored
    and no later save of it may be (the HTTP layer answers with the other request's outcome)."""


@dataclass(frozen=True)
class KeyRecord:
    request: str
    fingerprint: bytes
    position: int
    age_seconds: float                # by the database's clock, like every time of the row
    answered: bool                    # the first request finished (its answer kept or not)
    status: int | None                # None: no answer kept (a credential in it, a 5xx, too large)
    headers: list[tuple[str, str]]
    body: bytes


class KeyTable:
    """The table's SQL: the recorder's append function writes rows, :class:`IdempotencyKeys` reads
    and completes them."""

    PURGE_BATCH = 64  # expired rows removed per append that writes keys: more than it adds

    def __init__(self, schema: str, events_table: str):
        self.name = f"{events_table}_idempotency"
        self.constraint = f"{self.name}_pkey"
        self.ident = Identifier(schema, self.name)
        self.create_sql = [
            SQL("CREATE TABLE IF NOT EXISTS {t} ("
                " owner text NOT NULL, key text NOT NULL, request text NOT NULL, fingerprint bytea NOT NULL,"
                " position bigint NOT NULL, created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,"
                " answered_at timestamptz, status integer, headers jsonb, body bytea,"
                " CONSTRAINT {pk} PRIMARY KEY (owner, key))").format(t=self.ident, pk=Identifier(self.constraint)),
            SQL("CREATE INDEX IF NOT EXISTS {i} ON {t} (expires_at)").format(
                i=Identifier(f"{self.name}_expires"), t=self.ident),
        ]

    def append_sql(self) -> Composed:
        """The append function's key step, run after the head check and before the events are
        inserted (a retry racing its first attempt is told "key taken", not "version conflict").
        A row whose key expired is replaced; a few other expired rows go on the way."""
        return SQL(
            "  IF cardinality(key_owners) > 0 THEN"
            "   DELETE FROM {t} k USING unnest(key_owners, key_values) AS u(o, v)"
            "    WHERE k.owner = u.o AND k.key = u.v AND k.expires_at <= now();"
            "   DELETE FROM {t} WHERE (owner, key) IN (SELECT owner, key FROM {t}"
            "    WHERE expires_at <= now() ORDER BY expires_at LIMIT {n});"
            "   INSERT INTO {t} (owner, key, request, fingerprint, position, created_at, expires_at)"
            "    SELECT u.o, u.v, u.r, u.f, expected_head + u.off + 1, now(), now() + make_interval(secs => u.ttl)"
            "    FROM unnest(key_owners, key_values, key_requests, key_prints, key_offsets, key_ttls)"
            "     AS u(o, v, r, f, off, ttl);"
            "  END IF;"
        ).format(t=self.ident, n=self.PURGE_BATCH)


FINGERPRINT_LABEL = b"ledgerflow idempotency fingerprint v1"


def fingerprint_key(chain_key: bytes) -> bytes:
    """The server key a request's fingerprint is an HMAC under, derived from the chain key. A
    plain hash of the request would let anyone who reads the table (or a copy of it) test guesses
    of what a request carried — a set-password body is a password hash away — offline and fast."""
    return hmac.new(chain_key, FINGERPRINT_LABEL, hashlib.sha256).digest()


class IdempotencyKeys:
    """Reads a key's row and stores the answer of the request that wrote it. ``fingerprint_key``:
    the key of the requests' fingerprints (see :func:`fingerprint_key`)."""

    def __init__(self, datastore: PostgresDatastore, table: KeyTable, fingerprint_key: bytes):
        self.datastore = datastore
        self.table = table
        self.fingerprint_key = fingerprint_key
        self._find = SQL(
            "SELECT request, fingerprint, position, extract(epoch FROM now() - created_at)::float8 AS age,"
            " answered_at, status, headers, body FROM {t}"
            " WHERE owner = %s AND key = %s AND expires_at > now()").format(t=table.ident)
        self._answer = SQL(
            "UPDATE {t} SET answered_at = now(), status = %s, headers = %s::jsonb, body = %s"
            " WHERE owner = %s AND key = %s AND position = %s").format(t=table.ident)

    def find(self, owner: str, key: str) -> KeyRecord | None:
        with self.datastore.get_connection() as conn:
            row = conn.execute(self._find, (owner, key)).fetchone()
        if row is None:
            return None
        return KeyRecord(
            request=row["request"], fingerprint=bytes(row["fingerprint"]), position=row["position"],
            age_seconds=row["age"], answered=row["answered_at"] is not None, status=row["status"],
            headers=[(k, v) for k, v in (row["headers"] or [])], body=bytes(row["body"] or b""))

    def answer(self, claim: KeyClaim, status: int | None, headers: list[tuple[str, str]] | None = None,
               body: bytes | None = None) -> None:
        """Keep the answer of the request that wrote the row (``status`` None: finished, no answer kept)."""
        assert claim.owner is not None and claim.position is not None
        with self.datastore.get_connection() as conn:
            conn.execute(self._answer, (status, json.dumps(headers) if status is not None else None,
                                        body if status is not None else None, claim.owner, claim.key,
                                        claim.position))

    def forget_answers_quoting(self, values: set[str]) -> int:
        """Drop the kept answers whose body holds any of these values (as sent or JSON-escaped):
        an erased subject's personal data must not outlive its key here. A retry of such a request
        is then told its change was recorded without the answer (409, as after a crash)."""
        needles = sorted({form.encode() for v in values for form in (v, json.dumps(v)[1:-1]) if form})
        if not needles:
            return 0
        with self.datastore.get_connection() as conn:
            cur = conn.execute(SQL(
                "UPDATE {t} SET status = NULL, headers = NULL, body = NULL WHERE body IS NOT NULL"
                " AND EXISTS (SELECT 1 FROM unnest(%s::bytea[]) AS n(v) WHERE position(n.v IN body) > 0)"
            ).format(t=self.table.ident), (needles,))
            return cur.rowcount

    def expire(self, owner: str, key: str) -> None:
        """Let a key run out now (what the passing of its period does; for operators and tests)."""
        with self.datastore.get_connection() as conn:
            conn.execute(SQL("UPDATE {t} SET expires_at = now() - interval '1 second'"
                             " WHERE owner = %s AND key = %s").format(t=self.table.ident), (owner, key))
