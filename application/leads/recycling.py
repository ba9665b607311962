"""回收 then 回收再分配: recycle rules take back leads assigned more than N days without an
opening, and reassignment rules (purpose reassign, condition on the recycle count) distribute
them again through the same rule book (recorded and replayable)."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from application.leads.ports import LeadReads, SaveAll
from application.shared.base import Loader, command
from domain.leads.allocation import AllocationInputs, RuleConfig, allocate, allocation_entry, outcome, unavailable_among
from domain.leads.lead import Lead
from domain.leads.rulebook import RuleBook
from domain.shared.errors import ConcurrencyConflictError

ATTEMPTS = 6


class Recycling:
    clock: Callable[[], datetime]
    load: Loader
    save_all: SaveAll
    reads: LeadReads
    line_turn: Callable[[str], AbstractContextManager[None]]
    backoff: Callable[[int], None]
    rulebook: Callable[[str], RuleBook]
    availability: Callable[[str, list[RuleConfig]], tuple[set[str], dict[str, str]]]

    @command
    def recycle_due(self, business_line: str) -> dict[str, int]:
        """Candidates come from the read model; each lead's own rule (``due_for_recycling``)
        decides, so a lagging read model can only delay, never wrongly recycle."""
        with self.line_turn(business_line):
            for attempt in range(ATTEMPTS):
                try:
                    return self._recycle(business_line, self.clock())
                except ConcurrencyConflictError:
                    if attempt == ATTEMPTS - 1:
                        raise
                    self.backoff(attempt)
        raise AssertionError("unreachable")

    def _recycle(self, business_line: str, now: datetime) -> dict[str, int]:
        at = now.astimezone(timezone.utc).isoformat()
        book = self.rulebook(business_line)
        rules, states = book.configs(), book.working_states()
        unavailable, homes = self.availability(business_line, rules) if rules else (set(), {})
        touched: set[str] = set()
        entries: list[dict[str, Any]] = []
        changed: dict[UUID, Lead] = {}
        recycled = reassigned = 0
        for rule in book.recycle_configs():
            if not rule.enabled:
                continue
            cutoff = now - timedelta(days=rule.days)
            for lid in self.reads.recycle_candidates(business_line, rule.scope_departments, cutoff):
                lead = changed.get(lid) or self.load(lid, Lead)
                if not lead.due_for_recycling(rule, now):
                    continue
                lead.recycle(rule, now)
                recycled += 1
                inputs: AllocationInputs = {"purpose": "reassign", "department": rule.to_department,
                                            "channel": lead.channel_code, "at": now,
                                            "recycle_count": lead.recycle_count}
                decisions = allocate(rules, states, **inputs, unavailable=unavailable)
                if decisions:
                    department, owner = outcome(decisions, rule.to_department, homes)
                    touched.update(d["rule"] for d in decisions)
                    entries.append(allocation_entry(lid, lead.phone, inputs, at, decisions,
                                                    unavailable_among(rules, decisions, unavailable)))
                    if owner is not None or department != rule.to_department:
                        lead.assign(owner, department, at, f"recycled by {rule.key}", "reassign", decisions)
                        reassigned += int(owner is not None)
                changed[lid] = lead
        aggregates: list[Any] = list(changed.values())
        if entries:
            book.allocated(entries, {k: states[k] for k in touched})
            aggregates.append(book)
        if aggregates:
            self.save_all(*aggregates)
        return {"recycled": recycled, "reassigned": reassigned}
