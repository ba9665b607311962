"""What the compliance context needs from outside: where list entries are kept."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.compliance.lists import ListEntry


class ListEntryStore(Protocol):
    """Entries of list versions, addressed by their content hash (``entries_hash``): written once,
    never changed, so a version's entries are the ones its event's hash names."""

    def put(self, entries_hash: str, entries: Sequence[ListEntry]) -> None:
        """Store the entries under their hash, all or none; storing a hash that is there already
        changes nothing (a retried or concurrent load of the same content)."""

    def get(self, entries_hash: str) -> list[ListEntry]:
        """The entries stored under a hash (empty if none)."""
