"""Assignment and recycle rules of a business line (the rule book), and its replay."""
from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate
from eventsourcing.persistence import EventStore

from application.leads.staff import Staff
from application.shared.base import CommandResult, Loader, command
from domain.leads.allocation import RuleConfig
from domain.leads.replay import replay_assignments
from domain.leads.rulebook import RecycleRule, RuleBook, rulebook_id
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import NotFoundError


class Rules:
    load: Loader
    save_one: Callable[[LedgerAggregate], CommandResult]
    events: EventStore[UUID]
    exists: Callable[[UUID], bool]
    require_department: Callable[[str, str], None]
    require_member: Callable[[str, str, str], None]
    staff: Staff
    _books: dict[str, RuleBook]
    _books_lock: threading.Lock

    def rulebook(self, business_line: str) -> RuleBook:
        """The rule book, caught up incrementally: its history grows by one Allocated event per
        batch, so replaying it whole for every batch would cost O(batches). A private copy of the
        last state seen is fast-forwarded with only the newer events from the store (never
        trusted beyond them), and each caller gets its own copy to change."""
        book_id = rulebook_id(business_line)
        with self._books_lock:
            cached = self._books.get(business_line)
        if cached is None:
            try:
                book = self.load(book_id, RuleBook)
            except NotFoundError:
                return RuleBook.create(business_line)
        else:
            caught_up = project_aggregate(copy.deepcopy(cached), self.events.get(book_id, gt=cached.version))
            assert caught_up is not None  # events only ever advance a rule book, never discard it
            book = caught_up
        with self._books_lock:
            current = self._books.get(business_line)
            if current is None or current.version < book.version:
                self._books[business_line] = copy.deepcopy(book)
        return book

    def saved_rule(self, business_line: str, key: str, kind: str = "assignment") -> dict[str, Any] | None:
        """The assignment (or recycle) rule saved under ``key``, if any (for scope checks)."""
        try:
            book = self.load(rulebook_id(business_line), RuleBook)
        except NotFoundError:
            return None
        return (book.rules if kind == "assignment" else book.recycle_rules).get(key)

    @command
    def save_rule(self, business_line: str, rule: RuleConfig) -> CommandResult:
        self.require_department(rule.owner_department, "owner_department")
        for i, m in enumerate(rule.members):
            self.require_member(m.id, rule.target, f"members[{i}].id")
        found = self.staff.employees([m.id for m in rule.members] if rule.target == "employee" else [],
                                     business_line)
        book = self.rulebook(business_line)
        book.save_rule(rule, {m: e.unavailable for m, e in found.items() if e.unavailable})
        return self.save_one(book)

    def availability(self, business_line: str, rules: list[RuleConfig]) -> tuple[set[str], dict[str, str]]:
        """(the employees of these rules who cannot receive leads now, each employee's department):
        what the allocator skips, and where a lead given to an employee lands."""
        members = [m.id for r in rules if r.enabled and r.target == "employee" for m in r.members]
        found = self.staff.employees(members, business_line) if members else {}
        return {m for m, e in found.items() if e.unavailable}, {m: e.department_id for m, e in found.items()}

    @command
    def save_recycle_rule(self, business_line: str, rule: RecycleRule) -> CommandResult:
        for field in ("owner_department", "to_department"):
            self.require_department(getattr(rule, field), field)
        for i, d in enumerate(rule.scope_departments):
            self.require_department(d, f"scope_departments[{i}]")
        book = self.rulebook(business_line)
        book.save_recycle_rule(rule)
        return self.save_one(book)

    def verify_assignments(self, business_line: str) -> tuple[int, list[dict[str, Any]]]:
        """Replay the rule book: (decisions checked, mismatches)."""
        return replay_assignments(self.events.get(rulebook_id(business_line)))

    def rules_of(self, business_line: str) -> dict[str, Any]:
        """The rules and their counters (empty for a known line nobody configured yet)."""
        if not self.exists(rulebook_id(business_line)):
            return {"rules": [], "recycle_rules": [], "counters": {}, "allocations": 0}
        book = self.rulebook(business_line)
        return {"rules": list(book.rules.values()), "recycle_rules": list(book.recycle_rules.values()),
                "counters": {k: v["counts"] for k, v in book.states.items()}, "allocations": book.allocations}
