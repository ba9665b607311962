"""Rates as CTP names them, their ranges, and how a template states one: an absolute value or a
floating one (浮动手续费) relative to the exchange's own rate. Decimal throughout — a rate that
passed through a float is a different rate on the counter."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from domain.shared.errors import InvalidInputError

EXCHANGES = ("SHFE", "DCE", "CZCE", "CFFEX", "INE", "GFEX")
# A product ("cu", "SR") or an instrument ("cu2601", "SR601", "IO2606-C-4000"): CTP's InstrumentID.
PRODUCT = re.compile(r"^[A-Za-z]{1,6}[A-Za-z0-9-]{0,24}$")
PRODUCT_PART = re.compile(r"^[A-Za-z]+")

COMMISSION_RATES = ("OpenRatioByMoney", "OpenRatioByVolume", "CloseRatioByMoney", "CloseRatioByVolume",
                    "CloseTodayRatioByMoney", "CloseTodayRatioByVolume")
MARGIN_RATES = ("LongMarginRatioByMoney", "LongMarginRatioByVolume", "ShortMarginRatioByMoney",
                "ShortMarginRatioByVolume")
HEDGE_FLAGS = ("1", "2", "3", "5")   # speculation, arbitrage, hedge, market maker

# Inclusive bounds. ByMoney is a ratio of turnover (0.00005 = 0.5 万分之); commission above 1 % of
# turnover is a typing error, not a rate. ByVolume is yuan per lot. Margin ByMoney is a ratio of
# contract value (at most 100 %), margin ByVolume yuan per lot.
RANGES: dict[str, tuple[Decimal, Decimal]] = {
    **{f: (Decimal(0), Decimal("0.01")) for f in COMMISSION_RATES if f.endswith("ByMoney")},
    **{f: (Decimal(0), Decimal(1000)) for f in COMMISSION_RATES if f.endswith("ByVolume")},
    **{f: (Decimal(0), Decimal(1)) for f in MARGIN_RATES if f.endswith("ByMoney")},
    **{f: (Decimal(0), Decimal(1_000_000)) for f in MARGIN_RATES if f.endswith("ByVolume")},
}
MAX_MULTIPLIER = Decimal(100)
MAX_PLACES = 12


def decimal(value: Any, field: str) -> Decimal:
    """A finite Decimal from text, an int, a Decimal, or a JSON number: a float is taken by its
    shortest text (0.00005 -> Decimal("0.00005")), which is what was typed, never its binary value."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: {value!r} is not a decimal number")
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(value) if isinstance(value, (str, int, Decimal)) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValueError(f"{field}: {value!r} is not a decimal number")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        raise ValueError(f"{field}: at most {MAX_PLACES} decimal places")
    return number


def check_range(field: str, value: Decimal) -> Decimal:
    low, high = RANGES[field]
    if not low <= value <= high:
        raise ValueError(f"{field}: {value} is outside {low}..{high}")
    return value


def text(value: Decimal) -> str:
    """The canonical text of a rate: fixed point, no exponent, no trailing zeros."""
    normal = value.normalize()
    return format(normal, "f") if normal != 0 else "0"


class RateSpec(BaseModel):
    """One rate of a template entry: ``value`` (absolute), or ``multiplier`` and/or ``add`` applied
    to the exchange's rate for the same field (floating: exchange × multiplier + add)."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: Decimal | None = None
    multiplier: Decimal | None = None
    add: Decimal | None = None

    @field_validator("value", "multiplier", "add", mode="before")
    @classmethod
    def _decimal(cls, raw: Any) -> Any:
        return None if raw is None else decimal(raw, "rate")

    @model_validator(mode="after")
    def _one_kind(self) -> RateSpec:
        floating = self.multiplier is not None or self.add is not None
        if (self.value is None) == (not floating):
            raise ValueError("a rate is either a value, or floating (multiplier and/or add), not both or none")
        if self.multiplier is not None and not 0 <= self.multiplier <= MAX_MULTIPLIER:
            raise ValueError(f"multiplier: {self.multiplier} is outside 0..{MAX_MULTIPLIER}")
        return self

    @property
    def floating(self) -> bool:
        return self.value is None

    def resolve(self, field: str, base: Decimal | None) -> Decimal:
        if self.value is not None:
            return self.value
        if base is None:
            raise ValueError(f"{field}: floating, but the exchange has no {field} for this product")
        multiplier = Decimal(1) if self.multiplier is None else self.multiplier
        return check_range(field, base * multiplier + (self.add or Decimal(0)))

    def stored(self) -> dict[str, str]:
        return {k: text(v) for k, v in (("value", self.value), ("multiplier", self.multiplier),
                                        ("add", self.add)) if v is not None}


def product_of(instrument: str) -> str:
    """The product an instrument belongs to ("cu2601" -> "cu"): where its exchange rate is found."""
    match = PRODUCT_PART.match(instrument)
    return match.group(0) if match else instrument


def check_exchange(value: str) -> str:
    if value not in EXCHANGES:
        raise ValueError(f"unknown exchange {value!r}; one of {', '.join(EXCHANGES)}")
    return value


def check_product(value: str) -> str:
    if not PRODUCT.fullmatch(value):
        raise ValueError(f"{value!r} is not a product or instrument id (e.g. cu, cu2601, SR601)")
    return value


def invalid(exc: ValidationError, prefix: str, what: str, code: str) -> InvalidInputError:
    """A pydantic failure as the 422 the API answers: one entry per problem, with its path."""
    errors = [{"path": ".".join([prefix, *(str(p) for p in e["loc"])]).strip("."),
               "message": str(e["msg"]).removeprefix("Value error, ")} for e in exc.errors()]
    return InvalidInputError(f"{what} has {len(errors)} problem(s): {errors[0]['message']}", errors, code=code)
