"""The fee-rate context's Application (ADR 0013 shape, ADR 0023): templates, the exchanges' rate
table, and write-backs to the trading counters."""
from __future__ import annotations

from typing import Any

from application.feerates.ports import Completion, CounterPort, ImportArchive
from application.feerates.templates import Templates
from application.feerates.writebacks import Writebacks
from application.shared.base import LedgerApplication
from domain.feerates.layouts import Layout


class FeeRatesApplication(Templates, Writebacks, LedgerApplication):
    name = "feerates"

    def __init__(self, store: Any, *, broker_id: str, layouts: dict[str, Layout], counters: dict[str, CounterPort],
                 import_archive: ImportArchive | None = None, on_complete: Completion | None = None):
        super().__init__(store)
        self.broker_id = broker_id
        self.layouts = layouts
        self.counters = counters
        self.import_archive = import_archive
        self.on_complete = on_complete
