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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from uuid import UUID

from psycopg.sql import SQL, Identifier

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
        self.walk_sql = SQL(
            "SELECT coalesce(c.notification_id, e.notification_id) AS position,"
            " c.prev_notification_id, c.hash, e.originator_id, e.originator_version,"
            " e.topic, e.state, e.notification_id AS event_position"
            " FROM {c} c FULL OUTER JOIN {e} e ON e.notification_id = c.notification_id"
            " ORDER BY 1"
        ).format(c=ident, e=Identifier(schema, events_table))


@dataclass(frozen=True)
class ChainProblem:
    position: int
    kind: str  # "modified" | "deleted" | "unchained" | "broken_link"
    detail: str


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


def verify_rows(key: bytes, rows: Iterable[dict]) -> Iterator[ChainProblem | int]:
    """Walk joined chain/event rows in position order; yield problems (and the count at the end)."""
    prev_pos, prev_hash, checked = 0, GENESIS, 0
    for row in rows:
        checked += 1
        pos = row["position"]
        if row["hash"] is None:
            yield ChainProblem(pos, "unchained", f"event at position {pos} has no chain entry "
                               "(inserted outside the event store)")
            continue
        if row["event_position"] is None:
            yield ChainProblem(pos, "deleted", f"event row at position {pos} was deleted")
            prev_pos, prev_hash = pos, bytes(row["hash"])
            continue
        if row["prev_notification_id"] != prev_pos:
            yield ChainProblem(pos, "broken_link", f"chain entry at position {pos} links to "
                               f"{row['prev_notification_id']} but the previous entry is {prev_pos} "
                               "(rows between were deleted)")
        expected = link_hash(key, prev_hash, pos, row["originator_id"], row["originator_version"],
                             row["topic"], bytes(row["state"]))
        if not hmac.compare_digest(expected, bytes(row["hash"])):
            yield ChainProblem(pos, "modified", f"event at position {pos} "
                               f"({row['originator_id']} v{row['originator_version']}) does not "
                               "match its chain hash (updated after it was stored)")
        prev_pos, prev_hash = pos, bytes(row["hash"])
    yield checked
