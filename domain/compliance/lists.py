"""Screening lists: one aggregate per kind (sanctions, PEP, the firm's internal blacklist), each
load a new version. The entries themselves are not in the event: they are stored, content
addressed by ``entries_hash``, before the event that names the hash (ADR 0020), so the event
stays small and every version's entries can be read and verified against it."""
from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from eventsourcing.domain import event
from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id
from domain.shared.text import require_text, text_problem

ListKind = Literal["sanctions", "pep", "internal"]
LIST_KINDS: tuple[ListKind, ...] = ("sanctions", "pep", "internal")
MAX_ENTRIES = 500_000

Text = Annotated[str, Field(max_length=200)]


class ListEntry(BaseModel):
    """One person (or entity) on a list, as a list file gives it, validated at the boundary."""
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    entry_id: str = Field(min_length=1, max_length=64, description="The list's own id of the entry")
    name: str = Field(min_length=1, max_length=200)
    aliases: tuple[Text, ...] = Field((), max_length=50)
    id_type: str = Field("", max_length=32, description="e.g. cn_ric (居民身份证), passport")
    id_number: str = Field("", max_length=64)
    birth_date: date | None = None
    remarks: str = Field("", max_length=1000)

    # A ValueError, not the domain's error: pydantic collects it with the row and field it is in.
    @field_validator("entry_id", "name", "id_type", "id_number", "remarks")
    @classmethod
    def _storable(cls, value: str) -> str:
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alias in value:
            cls._storable(alias)
        return tuple(a.strip() for a in value if a.strip())


def entries_hash(entries: list[ListEntry]) -> str:
    """SHA-256 of the entries in canonical JSON, ordered by entry id: the same entries in another
    order are the same content (and no new version)."""
    canonical = [e.model_dump(mode="json") for e in sorted(entries, key=lambda e: e.entry_id)]
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def list_id(kind: str) -> UUID:
    return natural_id("screening_list", kind)


class ScreeningList(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        kind: str

    @event(Created)
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.loads: list[dict[str, object]] = []   # {"version", "entries_hash", "entry_count", "source_filename"}

    @classmethod
    def open(cls, kind: str) -> ScreeningList:
        if kind not in LIST_KINDS:
            raise RuleViolationError(f"list kind: one of {', '.join(LIST_KINDS)}", field="kind")
        return cls._create(cls.Created, id=list_id(kind), kind=kind)

    # The actor of the event is who loaded it (the envelope's ``actor``): not repeated here.
    class ListLoaded(LedgerAggregate.Event):
        version: int
        entries_hash: str
        entry_count: int
        source_filename: str

    @property
    def current_version(self) -> int:
        return len(self.loads)

    def current_hash(self) -> str | None:
        return str(self.loads[-1]["entries_hash"]) if self.loads else None

    def load(self, entries_hash: str, entry_count: int, source_filename: str) -> bool:
        """Record a new version; False (nothing recorded) when the content is the current version's,
        so an upload retried after a lost answer does not make a version of its own."""
        if entry_count < 1:
            raise RuleViolationError("a list load needs at least one entry: an empty file would empty the list",
                                     field="file")
        if self.current_hash() == entries_hash:
            return False
        self._loaded(version=len(self.loads) + 1, entries_hash=entries_hash, entry_count=entry_count,
                     source_filename=require_text(source_filename, "filename"))
        return True

    @event(ListLoaded)
    def _loaded(self, version: int, entries_hash: str, entry_count: int, source_filename: str) -> None:
        self.loads = [*self.loads, {"version": version, "entries_hash": entries_hash, "entry_count": entry_count,
                                    "source_filename": source_filename}]
