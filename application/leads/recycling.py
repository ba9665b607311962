"""回收 then 回收再分配: recycle rules take back leads assigned more than N days (or N working
days of the business calendar) without an opening, and reassignment rules (purpose reassign,
condition on the recycle count) distribute them again through the same rule book (recorded and
replayable)."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from application.leads.ports import LeadReads, SaveAll
from application.shared.base import Loader, command
from domain.calendar.working_time import WorkingTime
from domain.leads.allocation import AllocationInputs, RuleConfig, allocate, allocation_entry, outcome, unavailable_among
from domain.leads.lead import Lead
from domain.leads.rulebook import RuleBook
from domain.shared.errors import ConcurrencyConflictError

ATTEMPTS = 6
WorkingTimeOf = Callable[[UUID | None], WorkingTime]  # a department's business calendar


def _department(value: str) -> UUID | None:
    """Leads carry their department as text; one that is not an id counts the firm's calendar."""
    try:
        return UUID(value)
    except ValueError:
        return None


class Recycling:
    clock: Callable[[], datetime]
    load: Loader
    save_all: SaveAll
    reads: LeadReads
    line_turn: Callable[[str], AbstractContextManager[None]]
    backoff: Callable[[int], None]
    rulebook: Callable[[str], RuleBook]
    availability: Callable[[str, list[RuleConfig]], tuple[set[str], dict[str, str]]]
    working_time: WorkingTimeOf

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
        calendars: dict[str, WorkingTime] = {}  # one look-up per department and run

        def working_time(lead: Lead) -> WorkingTime:
            if lead.department_id not in calendars:
                calendars[lead.department_id] = self.working_time(_department(lead.department_id))
            return calendars[lead.department_id]

        for rule in book.recycle_configs():
            if not rule.enabled:
                continue
            # N working days are never fewer calendar days than N - 1 (add_days may stop at the
            # close of the last day's hours), so this cutoff misses no lead due by working days.
            cutoff = now - timedelta(days=rule.days if rule.days_basis == "calendar" else rule.days - 1)
            for lid in self.reads.recycle_candidates(business_line, rule.scope_departments, cutoff):
                lead = changed.get(lid) or self.load(lid, Lead)
                calendar = working_time(lead) if rule.days_basis == "working" else None
                if not lead.due_for_recycling(rule, now, calendar):
                    continue
                lead.recycle(rule, now, calendar)
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
