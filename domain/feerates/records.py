"""The counter's records, keyed by CTP's field names (ThostFtdcUserApiStruct.h): one
CThostFtdcInstrumentCommissionRateField per product or instrument, and a
CThostFtdcInstrumentMarginRateField where the margin changes. Fields are mapped by name, never by
position: newer API versions reorder and widen them."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.feerates.rates import COMMISSION_RATES, MARGIN_RATES, RateSpec, product_of

COMMISSION = "InstrumentCommissionRate"
MARGIN = "InstrumentMarginRate"
COMMISSION_FIELDS = ("InstrumentID", "InvestorRange", "BrokerID", "InvestorID", *COMMISSION_RATES, "ExchangeID",
                     "BizType", "InvestUnitID")
MARGIN_FIELDS = ("InstrumentID", "InvestorRange", "BrokerID", "InvestorID", "HedgeFlag", *MARGIN_RATES,
                 "IsRelative", "ExchangeID", "InvestUnitID")
SINGLE_INVESTOR = "3"   # InvestorRange: '1' all, '2' an investor group, '3' one investor
FUTURES = "1"           # BizType: '1' futures, '2' securities


@dataclass(frozen=True)
class Investor:
    broker_id: str
    investor_id: str          # the fund account (资金账号)
    invest_unit_id: str = ""


@dataclass(frozen=True)
class Rates:
    """The rates one product or instrument gets, resolved to values."""
    exchange: str
    instrument: str
    commission: dict[str, Decimal]
    margin: dict[str, Decimal] | None = None
    hedge_flag: str = "1"

    @property
    def key(self) -> tuple[str, str]:
        return self.exchange, self.instrument


def resolve(entries: list[dict[str, Any]], base: dict[tuple[str, str], dict[str, Decimal]]) -> list[Rates]:
    """A template version's entries with floating rates applied to the exchange's (for an
    instrument, its product's when the exchange table has no line for the instrument itself)."""
    resolved = []
    for entry in entries:
        exchange, product = entry["exchange"], entry["product"]
        exchange_rates = base.get((exchange, product)) or base.get((exchange, product_of(product))) or {}

        def value(name: str, spec: dict[str, str], rates: dict[str, Decimal] = exchange_rates) -> Decimal:
            return RateSpec.model_validate(spec).resolve(name, rates.get(name))

        commission = {n: value(n, entry["commission"][n]) for n in COMMISSION_RATES}
        margin = entry.get("margin")
        resolved.append(Rates(exchange, product, commission,
                              {n: value(n, margin["rates"][n]) for n in MARGIN_RATES} if margin else None,
                              margin["HedgeFlag"] if margin else "1"))
    return resolved


def records(rates: list[Rates], investor: Investor) -> list[tuple[str, dict[str, Any]]]:
    """(record kind, record) in a stable order: by exchange and instrument, commission first."""
    out: list[tuple[str, dict[str, Any]]] = []
    for r in sorted(rates, key=lambda r: r.key):
        common = {"InstrumentID": r.instrument, "InvestorRange": SINGLE_INVESTOR, "BrokerID": investor.broker_id,
                  "InvestorID": investor.investor_id}
        out.append((COMMISSION, {**common, **r.commission, "ExchangeID": r.exchange, "BizType": FUTURES,
                                 "InvestUnitID": investor.invest_unit_id}))
        if r.margin is not None:
            # IsRelative '0': the ratios are the investor's own, not added to the exchange's.
            out.append((MARGIN, {**common, "HedgeFlag": r.hedge_flag, **r.margin, "IsRelative": "0",
                                 "ExchangeID": r.exchange, "InvestUnitID": investor.invest_unit_id}))
    return out
