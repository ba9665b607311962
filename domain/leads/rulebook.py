"""The rule book of a business line: assignment rules, recycle rules and the allocation state
(per-rule counters, smooth weighted round-robin weights, round-robin cursor). One aggregate,
so an intake batch reads and advances every rule it uses in the same transaction as its
leads, and its history is the complete, ordered record of every automatic decision."""
from __future__ import annotations

import copy
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import event
from pydantic import BaseModel, Field

from domain.leads.allocation import RuleConfig
from domain.privacy.personal import Personal, personal
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import NotFoundError, RuleViolationError
from domain.shared.ids import natural_id

# How a recycle window counts its days: every calendar day, or only the working days of the
# business calendar of the lead's department (ADR 0014).
DaysBasis = Literal["calendar", "working"]


def rulebook_id(business_line: str) -> UUID:
    return natural_id("lead_rulebook", business_line)


class RecycleRule(BaseModel):
    """回收规则: leads assigned to employees of ``scope_departments`` more than ``days`` days
    without account opening go back to ``to_department``'s pool. ``days_basis: working`` counts
    the working days of the business calendar of the lead's department instead (3 working days
    from the Friday before the Spring Festival end after the holiday, not during it)."""

    key: str = Field(min_length=1, max_length=48, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    name: str = Field(min_length=1, max_length=100)
    owner_department: str
    scope_departments: list[str] = Field(min_length=1, max_length=200, description="回收范围")
    channels: list[str] = Field(default_factory=list, max_length=200, description="回收渠道; empty = all")
    days: int = Field(ge=1, le=3650, description="大于 N 天未开户")
    days_basis: DaysBasis = Field("calendar", description="calendar: every day counts; working: only the "
                                  "working days of the lead's department's business calendar (工作日)")
    to_department: str = Field(description="回收到")
    enabled: bool = True


class RuleBook(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        business_line: str

    @event(Created)
    def __init__(self, business_line: str):
        self.business_line: str = business_line
        self.rules: dict[str, dict[str, Any]] = {}
        self.recycle_rules: dict[str, dict[str, Any]] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.allocations = 0

    @classmethod
    def create(cls, business_line: str) -> RuleBook:
        return cls._create(cls.Created, id=rulebook_id(business_line), business_line=business_line)

    def save_rule(self, rule: RuleConfig, unavailable: dict[str, str] | None = None) -> None:
        """Checks first: a window must not start when it ends (it would never match); every
        employee member must be able to receive leads (``unavailable``: member -> why not)."""
        if rule.window is not None and rule.window.start == rule.window.end:
            raise RuleViolationError("a time window's start and end must differ (it would never match)",
                                     field="window")
        refused = [(i, m.id) for i, m in enumerate(rule.members) if m.id in (unavailable or {})]
        if refused:
            assert unavailable is not None
            raise RuleViolationError("these members cannot receive leads: " + "; ".join(
                f"{member} ({unavailable[member]})" for _, member in refused), field=f"members[{refused[0][0]}].id")
        self._rule_saved(rule.model_dump(mode="json"))

    class RuleSaved(LedgerAggregate.Event):
        rule: dict[str, Any]

    @event(RuleSaved)
    def _rule_saved(self, rule: dict[str, Any]) -> None:
        self.rules[rule["key"]] = rule
        members = {m["id"] for m in rule["members"]}
        state = self.states.get(rule["key"])
        if state is not None:  # counters of members still in the rule carry on
            state["counts"] = {k: v for k, v in state["counts"].items() if k in members}
            state["current"] = {k: v for k, v in state["current"].items() if k in members}

    def save_recycle_rule(self, rule: RecycleRule) -> None:
        self._recycle_rule_saved(rule.model_dump(mode="json"))

    class RecycleRuleSaved(LedgerAggregate.Event):
        rule: dict[str, Any]

    @event(RecycleRuleSaved)
    def _recycle_rule_saved(self, rule: dict[str, Any]) -> None:
        self.recycle_rules[rule["key"]] = rule

    def configs(self) -> list[RuleConfig]:
        return [RuleConfig.model_validate(r) for r in self.rules.values()]

    def recycle_configs(self) -> list[RecycleRule]:
        return [RecycleRule.model_validate(r) for r in self.recycle_rules.values()]

    def rule(self, key: str) -> dict[str, Any]:
        if key not in self.rules:
            raise NotFoundError(f"assignment rule {key!r} does not exist")
        return self.rules[key]

    def working_states(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self.states)

    class Allocated(LedgerAggregate.Event):
        decisions: list[dict[str, Any]]
        states: dict[str, dict[str, Any]]

    @event(Allocated)
    def allocated(self, decisions: list[dict[str, Any]], states: dict[str, dict[str, Any]]) -> None:
        """One event per batch: every decision (lead, its inputs, rule, member, why) and the
        state of each rule it advanced, as left by the last decision."""
        self.states.update(copy.deepcopy(states))
        self.allocations += len(decisions)


# Each allocation entry names its lead's phone: sealed under that lead's key (ADR 0028).
personal(RuleBook.Allocated, Personal("lead", ("phone",), subject="lead", each="decisions"))
