"""Replaying the rule book: every recorded assignment recomputed from empty state (pure)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from domain.leads.allocation import RuleConfig, allocate
from domain.leads.rulebook import RuleBook


def replay_assignments(events: Iterable[Any]) -> tuple[int, list[dict[str, Any]]]:
    """Re-run the allocator over a rule book's history: the configurations as saved, the inputs
    each Allocated event recorded (members unavailable then included; none in events older than
    that input), from empty state. Returns (decisions checked, mismatches)."""
    rules: dict[str, RuleConfig] = {}
    states: dict[str, dict[str, Any]] = {}
    checked, mismatches = 0, []
    for e in events:
        if isinstance(e, RuleBook.RuleSaved):
            rules[e.rule["key"]] = RuleConfig.model_validate(e.rule)
            members = {m["id"] for m in e.rule["members"]}
            if e.rule["key"] in states:
                st = states[e.rule["key"]]
                st["counts"] = {k: v for k, v in st["counts"].items() if k in members}
                st["current"] = {k: v for k, v in st["current"].items() if k in members}
        elif isinstance(e, RuleBook.Allocated):
            for entry in e.decisions:
                again = allocate(list(rules.values()), states, purpose=entry["purpose"],
                                 department=entry["department"], channel=entry["channel"],
                                 at=datetime.fromisoformat(entry["at"]), recycle_count=entry["recycle_count"],
                                 unavailable=entry.get("unavailable", ()))
                checked += 1
                if [(d["rule"], d["member"]) for d in again] != [(d["rule"], d["member"]) for d in
                                                                  entry["decisions"]]:
                    mismatches.append({"lead": entry["lead"], "recorded": entry["decisions"], "replayed": again})
    return checked, mismatches

