"""A template entry: the rates of one product (or instrument) on one exchange, and the exchange's
own rates (the base the floating ones follow)."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.feerates.rates import (
    COMMISSION_RATES,
    HEDGE_FLAGS,
    MARGIN_RATES,
    RateSpec,
    check_exchange,
    check_product,
    check_range,
    decimal,
    invalid,
    text,
)
from domain.shared.errors import InvalidInputError

MAX_ENTRIES = 500


class MarginSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    HedgeFlag: str = "1"
    rates: dict[str, RateSpec]

    @field_validator("HedgeFlag")
    @classmethod
    def _hedge(cls, value: str) -> str:
        if value not in HEDGE_FLAGS:
            raise ValueError(f"HedgeFlag: one of {', '.join(HEDGE_FLAGS)}")
        return value

    @field_validator("rates")
    @classmethod
    def _all_margin_rates(cls, rates: dict[str, RateSpec]) -> dict[str, RateSpec]:
        return _complete(rates, MARGIN_RATES)


class TemplateEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    exchange: str
    product: str
    commission: dict[str, RateSpec]
    margin: MarginSpec | None = None

    _exchange = field_validator("exchange")(classmethod(lambda cls, v: check_exchange(v)))
    _product = field_validator("product")(classmethod(lambda cls, v: check_product(v)))

    @field_validator("commission")
    @classmethod
    def _all_commission_rates(cls, rates: dict[str, RateSpec]) -> dict[str, RateSpec]:
        return _complete(rates, COMMISSION_RATES)

    def stored(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"exchange": self.exchange, "product": self.product,
                                 "commission": {f: self.commission[f].stored() for f in COMMISSION_RATES}}
        if self.margin is not None:
            entry["margin"] = {"HedgeFlag": self.margin.HedgeFlag,
                               "rates": {f: self.margin.rates[f].stored() for f in MARGIN_RATES}}
        return entry


def _complete(rates: dict[str, RateSpec], names: tuple[str, ...]) -> dict[str, RateSpec]:
    # Every rate stated: a missing one would reach the counter as 0 (no fee), silently.
    unknown = sorted(set(rates) - set(names))
    if unknown:
        raise ValueError(f"unknown rate {unknown[0]!r}; the rates are {', '.join(names)}")
    missing = [n for n in names if n not in rates]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}: state every rate (0 for none)")
    for name, spec in rates.items():
        if spec.value is not None:
            check_range(name, spec.value)
    return rates


def _checked(entries: list[dict[str, Any]], model: type[TemplateEntry] | type[ExchangeRate], code: str,
             what: str, stored: Callable[[Any], dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries validated one by one (every problem at once, with its path), one per exchange and
    product, canonical and sorted: the same rates always store the same way."""
    checked: dict[tuple[str, str], dict[str, Any]] = {}
    errors: list[dict[str, Any]] = []
    for i, raw in enumerate(entries):
        try:
            entry = model.model_validate(raw)
        except ValidationError as exc:
            errors.extend(invalid(exc, f"entries.{i}", "entry", code).errors)
            continue
        if (entry.exchange, entry.product) in checked:
            errors.append({"path": f"entries.{i}", "message": f"{entry.exchange} {entry.product} appears twice"})
        checked[(entry.exchange, entry.product)] = stored(entry)
    if errors:
        raise InvalidInputError(f"{what} {len(errors)} problem(s): {errors[0]['message']}", errors, code=code)
    return [checked[k] for k in sorted(checked)]


def checked_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Template entries as stored (rates as text)."""
    if len(entries) > MAX_ENTRIES:
        raise _too_many(f"at most {MAX_ENTRIES} entries", "invalid_template")
    return _checked(entries, TemplateEntry, "invalid_template", "the template has", lambda e: e.stored())


class ExchangeRate(BaseModel):
    """The exchange's own rates for a product: what floating template rates multiply."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    exchange: str
    product: str
    rates: dict[str, Decimal] = Field(description="Any of the commission and margin rate names")

    _exchange = field_validator("exchange")(classmethod(lambda cls, v: check_exchange(v)))
    _product = field_validator("product")(classmethod(lambda cls, v: check_product(v)))

    @field_validator("rates", mode="before")
    @classmethod
    def _rates(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or not raw:
            raise ValueError("rates: at least one rate by name")
        out = {}
        for name, value in raw.items():
            if name not in COMMISSION_RATES + MARGIN_RATES:
                raise ValueError(f"unknown rate {name!r}")
            out[name] = check_range(name, decimal(value, name))
        return out


def checked_exchange_rates(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not entries or len(entries) > 5 * MAX_ENTRIES:
        raise _too_many(f"between 1 and {5 * MAX_ENTRIES} products", "invalid_exchange_rates")
    return _checked(entries, ExchangeRate, "invalid_exchange_rates", "the exchange rates have", lambda rate: {
        "exchange": rate.exchange, "product": rate.product,
        "rates": {n: text(rate.rates[n]) for n in COMMISSION_RATES + MARGIN_RATES if n in rate.rates}})


def _too_many(message: str, code: str) -> InvalidInputError:
    return InvalidInputError(message, [{"path": "entries", "message": message}], code=code)
