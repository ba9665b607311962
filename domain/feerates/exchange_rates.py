"""The exchanges' own rates (交易所手续费/保证金标准), one table for the firm: what floating
template rates are relative to. Loaded whole (a file the clearing department maintains, sent
through the API); each load is a version, and a write-back records the version it used."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from eventsourcing.domain import event

from domain.feerates.entries import checked_exchange_rates
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id
from domain.shared.text import require_text

TABLE_ID = natural_id("feerate_exchange_rates", "firm")


class ExchangeRateTable(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        pass

    @event(Created)
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.source = ""
        self.effective_date = ""

    @classmethod
    def open(cls) -> ExchangeRateTable:
        return cls._create(cls.Created, id=TABLE_ID)

    class Loaded(LedgerAggregate.Event):
        entries: list[dict[str, Any]]
        source: str
        effective_date: str

    def load(self, entries: list[dict[str, Any]], source: str, effective_date: str) -> None:
        checked = checked_exchange_rates(entries)
        if checked == self.entries:
            raise RuleViolationError("nothing changed: the exchange rates are already these")
        self._loaded(entries=checked, source=require_text(source, "source"),
                     effective_date=require_text(effective_date, "effective_date", 10))

    @event(Loaded)
    def _loaded(self, entries: list[dict[str, Any]], source: str, effective_date: str) -> None:
        self.entries, self.source, self.effective_date = entries, source, effective_date

    def base(self) -> dict[tuple[str, str], dict[str, Decimal]]:
        """(exchange, product) -> rate name -> the exchange's rate."""
        return {(e["exchange"], e["product"]): {n: Decimal(v) for n, v in e["rates"].items()} for e in self.entries}
