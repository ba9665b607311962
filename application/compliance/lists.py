"""Screening lists: loading a list file as a new version, and each kind's current version made
ready to match (cached by content hash: a version's entries never change)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from application.compliance.list_files import Format, list_format, read_list_file
from application.compliance.ports import ListEntryStore
from application.shared.base import CommandResult, Loader, command
from domain.compliance.lists import LIST_KINDS, ScreeningList, entries_hash, list_id
from domain.compliance.matching import NameMatcher, PreparedList
from domain.shared.errors import NotFoundError, RuleViolationError, UnavailableError

CACHED_VERSIONS = 8


class ListNotLoadedError(UnavailableError):
    """A screening against a list that was never loaded cannot say "no hit": refused until it is."""

    def __init__(self, kind: str):
        super().__init__(f"the {kind} screening list has not been loaded (ledgerflow compliance load-list {kind} "
                         "FILE)", code="list_not_loaded", field="lists")


@dataclass(frozen=True)
class ListLoad:
    kind: str
    version: int
    entry_count: int
    entries_hash: str
    changed: bool              # False: the file's entries are the current version's; nothing recorded
    result: CommandResult


class ScreeningLists:
    # From the host (LedgerApplication) and the composition root:
    load: Loader
    save_one: Callable[[Any], CommandResult]
    exists: Callable[[Any], bool]
    read_current: Callable[..., Any]
    entries: ListEntryStore
    names: NameMatcher
    _prepared: dict[tuple[str, str], PreparedList]

    @command
    def load_list(self, kind: str, filename: str, content: bytes, media_type: str | None = None) -> ListLoad:
        """Validate the file, store its entries under their hash, then record the version. Entries
        go first: an event never names entries that are not there; entries no event names (a
        crash between the two) are unreferenced and harmless."""
        if kind not in LIST_KINDS:
            raise RuleViolationError(f"list kind: one of {', '.join(LIST_KINDS)}", field="kind")
        fmt: Format = list_format(filename, media_type)
        entries = read_list_file(content, fmt)
        digest = entries_hash(entries)
        screening_list = (self.load(list_id(kind), ScreeningList) if self.exists(list_id(kind))
                          else ScreeningList.open(kind))
        if screening_list.current_hash() != digest:
            self.entries.put(digest, entries)
        changed = screening_list.load(digest, len(entries), filename)
        result = self.save_one(screening_list)
        return ListLoad(kind, screening_list.current_version, len(entries), digest, changed, result)

    def current_list(self, kind: str) -> ScreeningList:
        if kind not in LIST_KINDS:
            raise RuleViolationError(f"list kind: one of {', '.join(LIST_KINDS)}", field="lists")
        try:
            screening_list: ScreeningList = self.read_current(list_id(kind), ScreeningList)
        except NotFoundError:
            raise ListNotLoadedError(kind) from None
        if not screening_list.loads:
            raise ListNotLoadedError(kind)
        return screening_list

    def prepared(self, kind: str) -> PreparedList:
        """The kind's current version, ready to match."""
        screening_list = self.current_list(kind)
        digest = screening_list.current_hash()
        assert digest is not None  # current_list refuses a list without loads
        key = (kind, digest)
        cached = self._prepared.get(key)
        if cached is not None and cached.version == screening_list.current_version:
            return cached
        stored = self.entries.get(digest)
        if len(stored) != screening_list.loads[-1]["entry_count"]:
            raise UnavailableError(f"the entries of {kind} list version {screening_list.current_version} are "
                                   "missing from the entry store", code="list_entries_missing", field="lists")
        prepared = PreparedList.of(kind, screening_list.current_version, stored, self.names)
        if len(self._prepared) >= CACHED_VERSIONS:
            self._prepared.clear()
        self._prepared[key] = prepared
        return prepared
