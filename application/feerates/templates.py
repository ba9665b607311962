"""Fee-rate templates and the exchanges' rate table: create, revise (a new version), publish, load."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from application.shared.base import CommandResult, Loader, command
from domain.feerates.exchange_rates import TABLE_ID, ExchangeRateTable
from domain.feerates.template import FeeRateTemplate, template_id
from domain.shared.errors import NotFoundError
from domain.shared.ids import check_key, natural_id


class Templates:
    # From the host (LedgerApplication):
    load: Loader
    exists: Callable[[UUID], bool]
    save_one: Callable[[Any], CommandResult]
    create_unique: Callable[[Any, str], CommandResult]

    def template(self, key: str, version: int | None = None) -> FeeRateTemplate:
        """The template (as of aggregate ``version`` when given: what a write-back rendered from)."""
        return self.load(template_id(check_key(key)), FeeRateTemplate, version=version,
                         what=f"fee-rate template {key!r}")

    @command
    def create_template(self, key: str, name: str, business_line: str, entries: list[dict[str, Any]],
                        note: str = "") -> CommandResult:
        if not self.exists(natural_id("business_line", business_line)):
            raise NotFoundError(f"unknown business line {business_line!r}", field="business_line")
        template = FeeRateTemplate.create(key, name, business_line, entries, note)
        return self.create_unique(template, f"fee-rate template {key!r}")

    @command
    def revise_template(self, key: str, name: str, entries: list[dict[str, Any]], note: str = "",
                        expected_version: int | None = None) -> CommandResult:
        template = self.load(template_id(check_key(key)), FeeRateTemplate, expected_version=expected_version,
                             what=f"fee-rate template {key!r}")
        template.revise(name, entries, note)
        return self.save_one(template)

    @command
    def publish_template(self, key: str, number: int, expected_version: int | None = None) -> CommandResult:
        template = self.load(template_id(check_key(key)), FeeRateTemplate, expected_version=expected_version,
                             what=f"fee-rate template {key!r}")
        template.publish(number)
        return self.save_one(template)

    def exchange_rates(self, version: int | None = None) -> ExchangeRateTable | None:
        if not self.exists(TABLE_ID):
            return None
        return self.load(TABLE_ID, ExchangeRateTable, version=version)

    @command
    def load_exchange_rates(self, entries: list[dict[str, Any]], source: str, effective_date: str,
                            expected_version: int | None = None) -> CommandResult:
        table = (self.load(TABLE_ID, ExchangeRateTable, expected_version=expected_version)
                 if self.exists(TABLE_ID) else ExchangeRateTable.open())
        table.load(entries, source, effective_date)
        return self.save_one(table)
