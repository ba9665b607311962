"""Subject keys: one random AES-256 key per data subject, kept wrapped in ``subject_keys``.

A key is created the first time a value of its subject is sealed, committed before the event
that uses it (so no stored event ever names a key that was never stored). Erasure overwrites
the wrapped key with NULL and stamps ``erased_at``; the row stays as a tombstone, so the subject
can never be given a new key and nothing new is sealed for it.

Unwrapped keys are cached in the process for ``cache_seconds`` (bounded in entries): erasure
clears the local entry at once, another process may still open the subject's values until its
entry expires (reads only: every write reads erasure from the table, see ``prepare``). An erased
subject is cached for good (erasure is final)."""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from typing import Any

from domain.privacy.errors import SubjectErasedError

INDEX_SUBJECT = "index:blind"  # the key of the keyed hashes (never erased)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS subject_keys (subject text PRIMARY KEY, wrapped bytea, wrapped_by text NOT NULL,"
    # clock_timestamp(): the rows of one multi-row INSERT are ordered too (read-ahead follows it).
    " created_at timestamptz NOT NULL DEFAULT clock_timestamp(), erased_at timestamptz,"
    " CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL)))",
    "CREATE INDEX IF NOT EXISTS subject_keys_created ON subject_keys (created_at, subject)",
)


def _erased_error(ref: str) -> SubjectErasedError:
    kind, _, subject_id = ref.partition(":")
    return SubjectErasedError(f"the personal data of {kind} {subject_id} was erased; nothing new is recorded about it")


class Keyring:
    def __init__(self, datastore: Any, wrapper: Any, *, cache_seconds: float = 15.0, cache_entries: int = 50_000,
                 readahead: int = 256):
        self.datastore = datastore
        self.wrapper = wrapper
        # Keys are created just before their subject's first events, so a reader going through the
        # store in position order (a rebuild) meets subjects in about the order of created_at: a
        # miss also reads the keys created next. 0 for a wrapper whose unwrap is a remote call (KMS).
        self.readahead = readahead
        self.cache_seconds = cache_seconds
        self.cache_entries = cache_entries
        self._cache: OrderedDict[str, tuple[bytes | None, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._index_key: bytes | None = None

    def create(self) -> None:
        with self.datastore.get_connection() as conn:
            for statement in SCHEMA:
                conn.execute(statement)

    # -- cache ------------------------------------------------------------------------------------
    def _cached(self, ref: str) -> tuple[bool, bytes | None]:
        with self._lock:
            hit = self._cache.get(ref)
            if hit is None:
                return False, None
            key, until = hit
            if key is not None and until < time.monotonic():
                del self._cache[ref]
                return False, None
            self._cache.move_to_end(ref)
            return True, key

    def _remember(self, ref: str, key: bytes | None) -> None:
        with self._lock:
            self._cache[ref] = (key, time.monotonic() + self.cache_seconds)
            self._cache.move_to_end(ref)
            while len(self._cache) > self.cache_entries:
                self._cache.popitem(last=False)

    def forget(self) -> None:
        """Drop every cached key (tests; a process that learns of an erasure elsewhere)."""
        with self._lock:
            self._cache.clear()

    # -- keys ---------------------------------------------------------------------------------------
    def _load(self, ref: str) -> tuple[bool, bytes | None]:
        """(the row exists, its unwrapped key or None when erased)."""
        with self.datastore.get_connection() as conn:
            row = conn.execute("SELECT wrapped FROM subject_keys WHERE subject = %s", (ref,)).fetchone()
        if row is None:
            return False, None
        wrapped = row["wrapped"]
        return True, None if wrapped is None else self.wrapper.unwrap(bytes(wrapped), ref)

    def opening_key(self, ref: str) -> bytes | None:
        """The key that opens the subject's values; None: erased (or never stored, fail closed)."""
        hit, key = self._cached(ref)
        if hit:
            return key
        if self.readahead:
            self._read_ahead(ref)
            hit, key = self._cached(ref)
            if hit:
                return key
        _, key = self._load(ref)
        self._remember(ref, key)
        return key

    def _read_ahead(self, ref: str) -> None:
        with self.datastore.get_connection() as conn:
            rows = conn.execute(
                "SELECT k.subject, k.wrapped FROM subject_keys k, (SELECT created_at, subject FROM subject_keys"
                " WHERE subject = %s) AS s WHERE (k.created_at, k.subject) >= (s.created_at, s.subject)"
                " ORDER BY k.created_at, k.subject LIMIT %s",
                (ref, self.readahead)).fetchall()
        for r in rows:
            if not self._cached(r["subject"])[0]:
                wrapped = r["wrapped"]
                self._remember(r["subject"], None if wrapped is None else self.wrapper.unwrap(bytes(wrapped),
                                                                                               r["subject"]))

    def sealing_key(self, ref: str) -> bytes:
        """The subject's key, created on first use; SubjectErasedError once it was erased.
        Trusts the cache: writes call ``prepare`` first (SealingEventStore.put), which reads
        erasure from the table."""
        hit, key = self._cached(ref)
        if not hit:
            exists, key = self._load(ref)
            if not exists:
                key = self._insert(ref)
            self._remember(ref, key)
        if key is None:
            raise _erased_error(ref)
        return key

    def prepare(self, refs: set[str]) -> None:
        """Have the keys of these subjects at hand before sealing, and refuse an erased one.

        Erasure is read from the table for every subject, cached or not (one query): another
        process may have erased a subject whose key this one still holds, and nothing new may be
        sealed for an erased subject (its repeat intake would join the erased lead, its follow-up
        be recorded). Keys are unwrapped only for those not cached; one INSERT creates those that
        have none (a batch of new leads costs two statements, not one per lead)."""
        if not refs:
            return
        with self.datastore.get_connection() as conn:
            rows = conn.execute("SELECT subject, wrapped FROM subject_keys WHERE subject = ANY(%s)",
                                (list(refs),)).fetchall()
            found = {r["subject"]: r["wrapped"] for r in rows}
            missing = [r for r in refs if not self._cached(r)[0]]
            new = {r: os.urandom(32) for r in missing if r not in found}
            if new:
                won = {r["subject"] for r in conn.execute(
                    "INSERT INTO subject_keys (subject, wrapped, wrapped_by) SELECT * FROM unnest(%s::text[],"
                    " %s::bytea[], %s::text[]) ON CONFLICT (subject) DO NOTHING RETURNING subject",
                    (list(new), [self.wrapper.wrap(k, r) for r, k in new.items()],
                     [self.wrapper.key_id] * len(new))).fetchall()}
                for r in set(new) - won:  # another process created it first: it is read on use
                    del new[r]
        erased = sorted(r for r, wrapped in found.items() if wrapped is None)
        for r in erased:
            self._remember(r, None)  # this process stops opening it too
        for r in missing:
            if r in found and found[r] is not None:
                self._remember(r, self.wrapper.unwrap(bytes(found[r]), r))
        for r, key in new.items():
            self._remember(r, key)
        if erased:
            raise _erased_error(erased[0])

    def _insert(self, ref: str) -> bytes | None:
        key = os.urandom(32)
        with self.datastore.get_connection() as conn:
            won = conn.execute(
                "INSERT INTO subject_keys (subject, wrapped, wrapped_by) VALUES (%s, %s, %s)"
                " ON CONFLICT (subject) DO NOTHING RETURNING subject",
                (ref, self.wrapper.wrap(key, ref), self.wrapper.key_id)).fetchone()
        if won:
            return key
        return self._load(ref)[1]  # another process created it first

    def erase(self, ref: str) -> bool:
        """Destroy the subject's key (a tombstone when it had none). True: it was not erased before."""
        with self.datastore.get_connection() as conn, conn.transaction():
            changed = conn.execute(
                "INSERT INTO subject_keys (subject, wrapped, wrapped_by, erased_at) VALUES (%s, NULL, %s, now())"
                " ON CONFLICT (subject) DO UPDATE SET wrapped = NULL, erased_at = now()"
                " WHERE subject_keys.erased_at IS NULL RETURNING subject",
                (ref, self.wrapper.key_id)).fetchone()
        self._remember(ref, None)
        if changed:
            self._vacuum()
        return changed is not None

    def erased_among(self, refs: set[str]) -> set[str]:
        """The subjects among these that are erased, read from the table, not the cache (another
        process may have erased one this process holds the key of); this process stops opening
        them too."""
        if not refs:
            return set()
        with self.datastore.get_connection() as conn:
            rows = conn.execute("SELECT subject FROM subject_keys WHERE subject = ANY(%s) AND wrapped IS NULL",
                                (list(refs),)).fetchall()
        erased = {r["subject"] for r in rows}
        for r in erased:
            self._remember(r, None)
        return erased

    def erased(self, ref: str) -> bool:
        return self.opening_key(ref) is None

    def _vacuum(self) -> None:
        """The overwritten row version stays in the table file until vacuumed: remove it now
        (best effort; autovacuum would get to it later)."""
        try:
            with self.datastore.get_connection() as conn:
                conn.execute("VACUUM subject_keys")
        except Exception:
            pass

    # -- keyed hashes ---------------------------------------------------------------------------------
    def digest(self, kind: str, value: str) -> str:
        """HMAC-SHA256 of ``kind:value`` under the index key (a random key kept wrapped like a
        subject key, so a KMS that never lets its master key out serves as well)."""
        if self._index_key is None:
            self._index_key = self.sealing_key(INDEX_SUBJECT)
        return hmac.new(self._index_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
