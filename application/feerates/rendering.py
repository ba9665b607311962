"""Rendering an approval's import file: the form and the template it names -> rates -> CTP records
-> the counter's layout. Everything it reads is pinned in ``source`` (template version, exchange
table version, broker), so rendering again from ``source`` gives the same bytes."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from application.flows.system_hooks import HookRequest
from domain.feerates.exchange_rates import ExchangeRateTable
from domain.feerates.form_mapping import FormMapping, combine, fund_account, row_rates, template_key
from domain.feerates.layouts import Layout
from domain.feerates.records import Investor, Rates, records, resolve
from domain.feerates.template import FeeRateTemplate
from domain.shared.errors import RuleViolationError

PARAMS = {"counter", "layout", "template", "form"}


@dataclass(frozen=True)
class HookParams:
    """The ``ctp_writeback`` node's hook_params: which counter and layout, a default template (the
    form's own choice wins), and where the form keeps what (``form``: FormMapping's names)."""
    counter: str = "ctp2"
    layout: str = "ctp2"
    template: str | None = None
    form: FormMapping = field(default_factory=FormMapping)

    @classmethod
    def parse(cls, params: dict[str, Any], counters: set[str], layouts: set[str]) -> HookParams:
        unknown = sorted(set(params) - PARAMS)
        if unknown:
            raise RuleViolationError(f"hook_params: unknown {unknown[0]!r}; known: {', '.join(sorted(PARAMS))}",
                                     field="hook_params")
        parsed = cls(counter=params.get("counter", "ctp2"), layout=params.get("layout", "ctp2"),
                     template=params.get("template"), form=FormMapping.from_params(params))
        if parsed.counter not in counters:
            raise RuleViolationError(f"hook_params.counter: {parsed.counter!r} is not configured "
                                     f"({', '.join(sorted(counters))})", field="hook_params.counter")
        if parsed.layout not in layouts:
            raise RuleViolationError(f"hook_params.layout: {parsed.layout!r} is not configured "
                                     f"({', '.join(sorted(layouts))})", field="hook_params.layout")
        return parsed


@dataclass(frozen=True)
class Rendered:
    content: bytes
    records: int
    source: dict[str, Any]


TemplateReader = Callable[[str], FeeRateTemplate]
TableReader = Callable[[int | None], ExchangeRateTable | None]


def render(request: HookRequest, params: HookParams, layout: Layout, broker_id: str, template: TemplateReader,
           exchange_rates: TableReader, pinned: dict[str, Any] | None = None) -> Rendered:
    mapping = params.form
    investor = Investor(broker_id if pinned is None else pinned["broker_id"],
                        fund_account(request.form, mapping, request.fund_account))
    key = template_key(request.form, mapping, params.template) if pinned is None else pinned["template"]
    source: dict[str, Any] = {"template": key, "template_number": None, "exchange_rates_version": None,
                              "broker_id": investor.broker_id}
    from_template: list[Rates] = []
    if key:
        chosen = template(key)
        if chosen.business_line != request.business_line:
            raise RuleViolationError(f"fee-rate template {key!r} belongs to business line {chosen.business_line}",
                                     field="template")
        number = chosen.published if pinned is None else pinned["template_number"]
        entries = chosen.version_of(number)["entries"]
        floating = any("value" not in spec for e in entries
                       for spec in [*e["commission"].values(), *e.get("margin", {}).get("rates", {}).values()])
        table = exchange_rates(None if pinned is None else pinned["exchange_rates_version"]) if floating else None
        if floating and table is None:
            raise RuleViolationError(f"fee-rate template {key!r} has floating rates, but no exchange rates are "
                                     "loaded (PUT /api/v1/feerates/exchange-rates)", field="template")
        try:
            from_template = resolve(entries, table.base() if table else {})
        except ValueError as exc:
            raise RuleViolationError(f"fee-rate template {key!r}: {exc}", field="template") from None
        source.update(template_number=number, exchange_rates_version=table.version if table else None)
    rates = combine(from_template, row_rates(request.form, mapping))
    lines = records(rates, investor)
    return Rendered(layout.render(lines), len(lines), source)
