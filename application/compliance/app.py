"""The compliance context's Application (ADR 0013 shape, ADR 0020): screening lists and screenings."""
from __future__ import annotations

from application.compliance.lists import ScreeningLists
from application.compliance.ports import ListEntryStore
from application.compliance.screenings import Screenings
from application.shared.base import LedgerApplication
from domain.compliance.matching import NameMatcher
from infrastructure.eventstore.store import EventStore


class ComplianceApplication(ScreeningLists, Screenings, LedgerApplication):
    name = "compliance"

    def __init__(self, store: EventStore, *, entries: ListEntryStore, names: NameMatcher):
        super().__init__(store)
        self.entries = entries
        self.names = names
        self._prepared = {}
