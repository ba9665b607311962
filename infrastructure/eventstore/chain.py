"""Tamper evidence: an HMAC-SHA256 chain over every stored event.

Each event row gets a chain row (same position) holding the position of its
predecessor and HMAC(key, previous hash || position || id || version || topic || state).
The key lives outside the database, so someone who can edit tables but does not
hold the key cannot forge a consistent chain after an UPDATE or DELETE.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.sql import SQL, Identifier

from domain.audit.anchors import ChainProblem

__all__ = ["GENESIS", "ChainProblem", "ChainTable", "VerifyReport", "link_hash", "unchained", "verify_rows"]

GENESIS = b"\x00" * 32


def link_hash(key: bytes, prev_hash: bytes, position: int, originator_id: UUID | str,
              version: int, topic: str, state: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(prev_hash)
    mac.update(struct.pack(">qq", position, version))
    mac.update(str(originator_id).encode())
    mac.update(b"\x1f")
    mac.update(topic.encode())
    mac.update(b"\x1f")
    mac.update(state)
    return mac.digest()


class ChainTable:
    def __init__(self, schema: str, events_table: str):
        self.events_table = events_table
        self.name = f"{events_table}_chain"
        ident = Identifier(schema, self.name)
        self.create_sql = SQL(
            "CREATE TABLE IF NOT EXISTS {t} ("
            " notification_id bigint PRIMARY KEY,"
            " prev_notification_id bigint NOT NULL,"
            " hash bytea NOT NULL)"
        ).format(t=ident)
        self.head_sql = SQL(
            "SELECT notification_id, hash FROM {t} ORDER BY notification_id DESC LIMIT 1"
        ).format(t=ident)
        self.insert_sql = SQL(
            "INSERT INTO {t} (notification_id, prev_notification_id, hash)"
            " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[])"
        ).format(t=ident)
        # The walk: chain rows in position order with their event (a merge left join over the
        # two primary keys, no sort; a FULL JOIN would be sorted again on the coalesced key).
        # Events without a chain row are found apart (walk.py). originator_id leaves as text:
        # the MAC covers its text form.
        events = Identifier(schema, events_table)
        self.walk_sql = SQL(
            "SELECT c.notification_id, c.prev_notification_id, c.hash, e.originator_id::text,"
            " e.originator_version, e.topic, e.state, e.notification_id"
            " FROM {c} c LEFT JOIN {e} e ON e.notification_id = c.notification_id"
            " WHERE c.notification_id > %s ORDER BY c.notification_id"
        ).format(c=ident, e=events)
        self.count_events_sql = SQL("SELECT count(*) FROM {e} WHERE notification_id > %s").format(e=events)
        self.unchained_sql = SQL(
            "SELECT e.notification_id FROM {e} e WHERE e.notification_id > %s AND NOT EXISTS"
            " (SELECT 1 FROM {c} c WHERE c.notification_id = e.notification_id) ORDER BY 1").format(c=ident, e=events)
        self.at_sql = SQL(
            "SELECT notification_id, hash FROM {t} WHERE notification_id = ANY(%s::bigint[])").format(t=ident)
        self.last_sql = SQL(
            "SELECT greatest((SELECT max(notification_id) FROM {t}), (SELECT max(notification_id) FROM {e}))"
        ).format(t=ident, e=Identifier(schema, events_table))


@dataclass
class VerifyReport:
    checked: int
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_break(self) -> int | None:
        return self.problems[0].position if self.problems else None


def verify_rows(key: bytes, rows: Iterable[Sequence[Any]], *, after: int = 0,
                after_hash: bytes = GENESIS) -> Iterator[ChainProblem | int]:
    """Walk joined chain/event rows (``walk_sql`` columns, as tuples) in position order; yield
    problems, then the number of rows checked. ``after``/``after_hash``: the entry the walk
    starts behind (genesis, or a checkpoint whose hash matches the stored chain).

    Only the rows at fault are named. When chain entries are missing, the entry after them
    links to a predecessor whose hash is gone, so its own MAC cannot be recomputed: the
    deletion is reported at the position it names, and the walk goes on from the next
    entry's stored hash instead of calling that untouched event "modified"."""
    prev_pos, prev_hash, checked = after, after_hash, 0
    inner, outer = _pads(key)
    compare, pack, join = hmac.compare_digest, struct.pack, b"".join
    for pos, prev_link, stored, originator_id, version, topic, state, event_pos in rows:
        checked += 1
        if stored is None:
            yield unchained(pos)
            continue
        linked = prev_link == prev_pos
        if not linked:
            yield _link_problem(pos, prev_link, prev_pos)
        if event_pos is None:
            yield ChainProblem(pos, "deleted", f"event row at position {pos} was deleted "
                               "(its chain entry remains)")
        elif linked:
            # link_hash, inlined on precomputed HMAC pads: this loop is the whole cost of a verify
            mac = inner.copy()
            mac.update(join((prev_hash, pack(">qq", pos, version), originator_id.encode(), b"\x1f",
                             topic.encode(), b"\x1f", state)))
            digest = outer.copy()
            digest.update(mac.digest())
            if not compare(digest.digest(), stored):
                yield ChainProblem(pos, "modified", f"event at position {pos} ({originator_id} v{version}) "
                                   "does not match its chain hash (updated after it was stored)")
        prev_pos, prev_hash = pos, stored
    yield checked


def _pads(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states after HMAC's inner and outer key pads (RFC 2104): copying them per row
    costs a fraction of ``hmac.new``, which redoes the key schedule every time."""
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in block)), hashlib.sha256(bytes(b ^ 0x5C for b in block)))


def unchained(position: int) -> ChainProblem:
    return ChainProblem(position, "unchained", f"event at position {position} has no chain entry "
                        "(inserted outside the event store)")


def _link_problem(pos: int, prev_link: int, prev_pos: int) -> ChainProblem:
    if prev_link > prev_pos:
        between = (f" (positions {prev_pos + 1}–{prev_link - 1} are unaccounted for too: deleted, or never used)"
                   if prev_link - prev_pos > 1 else "")
        return ChainProblem(prev_link, "deleted", f"event and chain entry at position {prev_link} were deleted: "
                            f"the entry at {pos} links to it{between}; the event at {pos} cannot be checked "
                            "against the lost hash")
    return ChainProblem(pos, "broken_link", f"chain entry at position {pos} links to {prev_link} but the "
                        f"previous entry is {prev_pos} (an entry was inserted before it)")
