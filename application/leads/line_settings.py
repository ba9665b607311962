"""Settings of a business line: intake (repeat window, CEL filters, attribution, sensitive-word
mode), the blacklist and the sensitive words."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import cel

from application.shared.base import CommandResult, Loader, command
from domain.leads.phone import InvalidPhoneError, normalise_phone
from domain.leads.settings import IntakeConfig, LeadSettings, settings_id
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import InvalidInputError, NotFoundError


class LineSettings:
    load: Loader
    save_one: Callable[[LedgerAggregate], CommandResult]
    exists: Callable[[UUID], bool]

    def settings(self, business_line: str) -> LeadSettings:
        try:
            return self.load(settings_id(business_line), LeadSettings)
        except NotFoundError:
            return LeadSettings.create(business_line)

    @command
    def configure_intake(self, business_line: str, config: IntakeConfig) -> CommandResult:
        problems = []
        for i, rule in enumerate(config.filter_rules):
            try:
                cel.compile(rule.expression)
            except (ValueError, RuntimeError) as exc:
                problems.append({"path": f"filter_rules[{i}].expression", "message": str(exc).splitlines()[0]})
        if problems:
            raise InvalidInputError("a filter rule does not compile", problems, code="invalid_filter_rule")
        settings = self.settings(business_line)
        settings.configure(config.model_dump())
        return self.save_one(settings)

    @command
    def change_blacklist(self, business_line: str, add: list[str], remove: list[str], reason: str) -> CommandResult:
        settings = self.settings(business_line)
        settings.change_blacklist(self._phones(add, "add"), self._phones(remove, "remove"), reason)
        return self.save_one(settings)

    @command
    def change_sensitive_words(self, business_line: str, add: list[str], remove: list[str]) -> CommandResult:
        settings = self.settings(business_line)
        settings.change_sensitive_words(sorted({w.strip() for w in add if w.strip()}),
                                        sorted({w.strip() for w in remove if w.strip()}))
        return self.save_one(settings)

    @staticmethod
    def _phones(raw: list[str], field: str) -> list[str]:
        out, problems = [], []
        for i, value in enumerate(raw):
            try:
                out.append(normalise_phone(value))
            except InvalidPhoneError as exc:
                problems.append({"path": f"{field}[{i}]", "message": exc.message})
        if problems:
            raise InvalidInputError(f"{len(problems)} invalid phone(s)", problems, code="invalid_phone")
        return sorted(set(out))

    def blacklist_page(self, business_line: str, after: str | None, limit: int) -> list[str]:
        """Blacklisted phones in order, after ``after`` (keyset), at most ``limit`` (from the
        aggregate: a phone added a moment ago is listed)."""
        if not self.exists(settings_id(business_line)):
            return []
        return sorted(p for p in self.settings(business_line).blacklist if after is None or p > after)[:limit]

    def settings_of(self, business_line: str) -> dict[str, Any]:
        """Intake settings, blacklist size and sensitive words (the defaults when not configured)."""
        if not self.exists(settings_id(business_line)):
            return {**IntakeConfig().model_dump(), "blacklist_size": 0, "sensitive_words": []}
        s = self.settings(business_line)
        return {**s.config, "blacklist_size": len(s.blacklist), "sensitive_words": sorted(s.sensitive_words)}
