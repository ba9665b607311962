"""Checkpoints of the audit chain head, kept outside the events table (ADR 0027).

The chain (ADR 0004) proves that no stored row was edited or removed from the middle, but
nothing in the database says where it ended: deleting the newest events together with their
chain rows leaves a shorter, valid chain. A checkpoint records the head (position, hash, time)
in an append-only place the database's users cannot rewrite, with an HMAC under a key derived
from the chain key, so a line appended by someone without the key is told from a real one.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

KEY_LABEL = b"ledgerflow audit checkpoint v1"


@dataclass(frozen=True)
class ChainProblem:
    position: int
    # modified | deleted | unchained | broken_link | missing | checkpoint_mismatch | checkpoint_forged
    # | checkpoint_regressed | anchor_unavailable
    kind: str
    detail: str


def checkpoint_key(chain_key: bytes) -> bytes:
    """A key of its own for checkpoints: a checkpoint MAC can never be replayed as a chain hash."""
    return hmac.new(chain_key, KEY_LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class Checkpoint:
    position: int
    hash: bytes
    at: datetime
    mac: bytes

    @staticmethod
    def payload_of(position: int, chain_hash: bytes, at: datetime) -> bytes:
        return f"ledgerflow-checkpoint-v1\x1f{position}\x1f{chain_hash.hex()}\x1f{at.isoformat()}".encode()

    @property
    def payload(self) -> bytes:
        """The bytes the MAC (and a time-stamping authority's imprint) covers."""
        return self.payload_of(self.position, self.hash, self.at)

    @classmethod
    def sign(cls, key: bytes, position: int, chain_hash: bytes, at: datetime) -> Checkpoint:
        mac = hmac.new(key, cls.payload_of(position, chain_hash, at), hashlib.sha256).digest()
        return cls(position, chain_hash, at, mac)

    def authentic(self, key: bytes) -> bool:
        return hmac.compare_digest(hmac.new(key, self.payload, hashlib.sha256).digest(), self.mac)

    def to_json(self) -> dict[str, object]:
        return {"position": self.position, "hash": self.hash.hex(), "at": self.at.isoformat(),
                "mac": self.mac.hex()}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Checkpoint:
        position, chain_hash, at, mac = data["position"], data["hash"], data["at"], data["mac"]
        if not (isinstance(position, int) and isinstance(chain_hash, str) and isinstance(at, str)
                and isinstance(mac, str)):
            raise ValueError("a checkpoint needs position (int), hash, at and mac (text)")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("a checkpoint's time must carry its time zone")
        return cls(position, bytes.fromhex(chain_hash), moment, bytes.fromhex(mac))


@dataclass(frozen=True)
class AnchoredEntry:
    """One record read back from an anchor: a checkpoint, or why the record is not one."""
    where: str  # line number or object key, for the report
    checkpoint: Checkpoint | None
    error: str | None = None


class Anchor(Protocol):
    """An append-only place outside the events table (file, object-locked bucket, TSA)."""

    description: str
    @property
    def local_file(self) -> Path | None:
        """The file on this machine that holds the records (a backup copies it); None when the
        records live elsewhere (an object-locked bucket keeps them itself)."""
        ...

    def append(self, checkpoint: Checkpoint) -> None: ...

    def latest(self, limit: int) -> list[AnchoredEntry]:
        """Records newest first: every record when they are in a local file (cheap to read, and
        the highest position among them is the truncation reference, so copies of an old
        checkpoint appended after the newest cannot hide it), or the ``limit`` first in a store
        whose names sort by position (a name that does not match its content is not genuine)."""
        ...


def check_checkpoints(entries: Iterable[AnchoredEntry], key: bytes,
                      lookup: Callable[[list[int]], Mapping[int, bytes]], last_position: int,
                      compared: int = 100) -> tuple[list[ChainProblem], Checkpoint | None]:
    """Compare anchored checkpoints (newest first, in the anchor's order) with the store.

    The truncation reference is the HIGHEST genuine position among every entry, not the newest
    entry's: a copy of an old genuine checkpoint is still genuine, so the order of appending
    proves nothing. A genuine entry whose position is lower than one appended before it is
    reported (``checkpoint_regressed``): the head never moves back. ``lookup`` gives the chain
    hashes stored at positions (absent: no row); the ``compared`` highest genuine positions are
    compared with it (the highest already covers every position before it).
    ``last_position`` is the newest position present in the store (events or chain rows).
    Returns the problems and the highest checkpoint that is authentic and matches the store
    (from which an incremental walk may start)."""
    problems: list[ChainProblem] = []
    genuine: list[tuple[AnchoredEntry, Checkpoint]] = []
    for entry in entries:
        cp = entry.checkpoint
        if cp is None or not cp.authentic(key):
            why = entry.error or "its MAC does not match (written without the chain key)"
            position = cp.position if cp is not None else 0
            problems.append(ChainProblem(position, "checkpoint_forged", f"checkpoint {entry.where} is not "
                                                                        f"genuine: {why}"))
            continue
        genuine.append((entry, cp))
    highest: Checkpoint | None = None
    for entry, cp in reversed(genuine):  # in the order of appending
        if highest is not None and cp.position < highest.position:
            problems.append(ChainProblem(cp.position, "checkpoint_regressed", f"checkpoint {entry.where} "
                                         f"records head {cp.position}, below head {highest.position} anchored "
                                         "before it (an old checkpoint replayed?)"))
        if highest is None or cp.position > highest.position:
            highest = cp
    if highest is not None and highest.position > last_position:
        first = last_position + 1
        span = f"events {first}–{highest.position} are" if first < highest.position else f"event {first} is"
        problems.append(ChainProblem(first, "missing", f"{span} missing: the checkpoint at "
                                     f"{highest.at.isoformat(timespec='seconds')} recorded head {highest.position}"))
    present = sorted({cp.position for _, cp in genuine if cp.position <= last_position}, reverse=True)[:compared]
    stored, compare = (lookup(present) if present else {}), set(present)
    good: Checkpoint | None = None
    for _, cp in sorted(genuine, key=lambda pair: -pair[1].position):  # stable: newest first per position
        if cp.position not in compare:
            continue
        when = cp.at.isoformat(timespec="seconds")
        chain_hash = stored.get(cp.position)
        if chain_hash is None:
            problems.append(ChainProblem(cp.position, "missing", f"the chain entry at position {cp.position} "
                                                                 f"recorded by the checkpoint at {when} is missing"))
        elif not hmac.compare_digest(chain_hash, cp.hash):
            problems.append(ChainProblem(cp.position, "checkpoint_mismatch", f"the chain hash at position "
                                         f"{cp.position} differs from the checkpoint at {when} (the chain "
                                         "was rewritten after it)"))
        elif good is None:
            good = cp
    return problems, good
