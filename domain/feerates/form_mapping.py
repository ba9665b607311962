"""From a fee-rate form to the rates of each product: the template the form names (浮动手续费 /
费率模板, applied whole) and the rows it sets one by one (单一设置), a row overriding the template
for its product. Which form fields hold what is configuration (the flow node's hook_params), with
defaults that match the demo fee-rate form (interfaces/demo_forms.py)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from domain.feerates.rates import (
    COMMISSION_RATES,
    EXCHANGES,
    HEDGE_FLAGS,
    check_product,
    check_range,
    decimal,
)
from domain.feerates.records import Rates
from domain.shared.errors import InvalidInputError, RuleViolationError


@dataclass(frozen=True)
class FormMapping:
    template_field: str = "fee_template"          # a template key; absent or empty: rows only
    fund_account_field: str = "customer.fund_account"
    exchange_field: str = "exchange"              # the rows' exchange unless a row names its own
    rows_field: str = "rates"
    row_exchange: str = "exchange"
    row_product: str = "product"
    row_rate: str = "rate"                        # open and close, by money, in rate_unit
    row_close_today_rate: str = "close_today_rate"  # by money, in rate_unit; absent = row_rate
    row_per_lot: str = "per_lot"                  # yuan per lot (ByVolume) for open, close and close today
    row_long_margin: str = "long_margin"          # percent of contract value; with short: a margin record
    row_short_margin: str = "short_margin"
    row_hedge_flag: str = "hedge_flag"
    rate_unit: str = "10000"                      # the form's rate is 万分之 (per ten thousand)
    margin_unit: str = "100"                      # the form's margin is a percentage

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> FormMapping:
        known = {f.name for f in fields(cls)}
        given = params.get("form", {})
        if not isinstance(given, dict) or set(given) - known or not all(isinstance(v, str) for v in given.values()):
            raise RuleViolationError(f"hook_params.form: text values for any of {', '.join(sorted(known))}",
                                     field="hook_params.form")
        return cls(**given)


def pick(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def template_key(form: dict[str, Any], mapping: FormMapping, default: str | None) -> str | None:
    value = pick(form, mapping.template_field)
    return value if isinstance(value, str) and value else default


def fund_account(form: dict[str, Any], mapping: FormMapping, instance_account: str | None) -> str:
    """The investor the records are for: the flow's own fund account — the one the initiator's data
    scope was checked against at the start — never one only the form names. A form naming another
    account is refused: the counter would change a customer nobody in scope approved for."""
    named = pick(form, mapping.fund_account_field)
    if not instance_account:
        raise RuleViolationError("the flow has no customer (fund account) of its own: start it with the customer's "
                                 "fund_account", field="fund_account")
    if named not in (None, "", instance_account):
        raise RuleViolationError(f"the form's {mapping.fund_account_field} is not the flow's customer",
                                 field=mapping.fund_account_field)
    value = instance_account
    if not value.isascii() or not value.isdigit() or not 6 <= len(value) <= 20:
        raise RuleViolationError(f"the fund account {value!r} is not 6-20 digits", field="fund_account")
    return value


def row_rates(form: dict[str, Any], mapping: FormMapping) -> list[Rates]:
    """The rows' rates; every problem at once, with its path in the form."""
    rows = pick(form, mapping.rows_field) or []
    if not isinstance(rows, list):
        raise RuleViolationError(f"{mapping.rows_field} is not a list", field=mapping.rows_field)
    out, errors = [], []
    for i, row in enumerate(rows):
        try:
            out.append(_row(row if isinstance(row, dict) else {}, form, mapping))
        except (ValueError, ArithmeticError) as exc:  # ArithmeticError: a decimal like 1E+999999999 overflowing
            errors.append({"path": f"{mapping.rows_field}.{i}", "message": str(exc)})
    if errors:
        raise InvalidInputError(f"the form's rates have {len(errors)} problem(s): {errors[0]['message']}", errors,
                                code="invalid_rates")
    return out


def _row(row: dict[str, Any], form: dict[str, Any], m: FormMapping) -> Rates:
    exchange = row.get(m.row_exchange) or pick(form, m.exchange_field)
    if exchange not in EXCHANGES:
        raise ValueError(f"unknown exchange {exchange!r}")
    product = check_product(str(row.get(m.row_product) or ""))
    unit, margin_unit = Decimal(m.rate_unit), Decimal(m.margin_unit)
    rate = _number(row, m.row_rate) / unit
    close_today = _number(row, m.row_close_today_rate, rate * unit) / unit
    per_lot = _number(row, m.row_per_lot, Decimal(0))
    by_money = {"Open": rate, "Close": rate, "CloseToday": close_today}
    commission = {n: by_money[n.removesuffix("RatioByMoney")] if n.endswith("ByMoney") else per_lot
                  for n in COMMISSION_RATES}
    margin = None
    if row.get(m.row_long_margin) is not None or row.get(m.row_short_margin) is not None:
        long_ = _number(row, m.row_long_margin) / margin_unit
        short = _number(row, m.row_short_margin, long_ * margin_unit) / margin_unit
        margin = {"LongMarginRatioByMoney": long_, "LongMarginRatioByVolume": Decimal(0),
                  "ShortMarginRatioByMoney": short, "ShortMarginRatioByVolume": Decimal(0)}
    hedge = str(row.get(m.row_hedge_flag) or "1")
    if hedge not in HEDGE_FLAGS:
        raise ValueError(f"hedge flag {hedge!r}: one of {', '.join(HEDGE_FLAGS)}")
    for name, value in {**commission, **(margin or {})}.items():
        check_range(name, value)
    return Rates(exchange, product, commission, margin, hedge)


def _number(row: dict[str, Any], key: str, default: Decimal | None = None) -> Decimal:
    value = row.get(key)
    if value is None:
        if default is None:
            raise ValueError(f"{key} is missing")
        return default
    return decimal(value, key)


def combine(template: list[Rates], rows: list[Rates]) -> list[Rates]:
    """The template's rates with the rows' on top (a row replaces its product's template line)."""
    merged = {r.key: r for r in template}
    merged.update({r.key: r for r in rows})
    if not merged:
        raise RuleViolationError("the form names no template and sets no rates: nothing to write back")
    return [merged[k] for k in sorted(merged)]
