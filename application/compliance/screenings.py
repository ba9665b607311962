"""Screenings: screening people against the current list versions, recording what a flow's
screening found (once per flow request), and the compliance review of a hit."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.shared.base import CommandResult, Loader, command
from domain.compliance.lists import LIST_KINDS
from domain.compliance.matching import DEFAULT_THRESHOLD, Hit, NameMatcher, PreparedList, Subject, screen
from domain.compliance.screening import Decision, Screening, ScreeningOrder, screening_id
from domain.shared.context import current_context
from domain.shared.errors import AlreadyExistsError, ConcurrencyConflictError, RuleViolationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScreeningResult:
    hits: list[Hit]
    list_versions: dict[str, int]     # kind -> version screened against


def _kinds(lists: Sequence[str]) -> list[str]:
    kinds = list(dict.fromkeys(lists))
    if not kinds or any(k not in LIST_KINDS for k in kinds):
        raise RuleViolationError(f"lists: one or more of {', '.join(LIST_KINDS)}", field="lists")
    return kinds


def _threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.5 <= threshold <= 1:
        raise RuleViolationError("threshold: a number from 0.5 to 1", field="threshold")
    return float(threshold)


class Screenings:
    # From the host (LedgerApplication), the ScreeningLists capability and the composition root:
    load: Loader
    save_one: Callable[[Any], CommandResult]
    exists: Callable[[Any], bool]
    prepared: Callable[[str], PreparedList]
    names: NameMatcher
    # The flow waiting on a screening's review (the system hook answered "waiting" on a hit):
    # on_complete(request_id, status, result), set at composition (ADR 0024). None: nobody waits.
    on_complete: Callable[[str, str, dict[str, Any]], Any] | None = None

    def screen(self, subjects: Sequence[Subject], lists: Sequence[str],
               threshold: float = DEFAULT_THRESHOLD) -> ScreeningResult:
        """Who of ``subjects`` hits the current versions of ``lists`` (nothing recorded)."""
        prepared = [self.prepared(kind) for kind in _kinds(lists)]
        hits = screen(subjects, prepared, self.names, _threshold(threshold))
        return ScreeningResult(hits, {p.kind: p.version for p in prepared})

    @command
    def perform_screening(self, order: ScreeningOrder) -> Screening:
        """Screen and record it; for a request screened before, the screening it recorded (a retried
        hook answers as the first run did, whatever the lists hold now)."""
        sid = screening_id(order.request_id)
        if self.exists(sid):
            return self.load(sid, Screening)
        result = self.screen(order.subjects, order.lists, order.threshold)
        screening = Screening.perform(order, result.list_versions, result.hits)
        try:
            self.save_one(screening)
        except (AlreadyExistsError, ConcurrencyConflictError):
            return self.load(sid, Screening)  # a concurrent run of the same request recorded it first
        return screening

    @command
    def review(self, screening: UUID, decision: Decision, reason: str,
               expected_version: int | None = None, person: str | None = None) -> CommandResult:
        """The compliance reviewer's decision on a screening's hits: ``clear`` (false positive) or
        ``confirm`` (the person is on the list). The reviewer is who acts (the command's actor)."""
        record = self.load(screening, Screening, expected_version=expected_version, what=f"screening {screening}")
        record.review(decision, reason, by=current_context().actor, person=person)
        result = self.save_one(record)
        self.tell_flow(record)
        return result

    def tell_flow(self, record: Screening) -> None:
        """The flow waiting at the screening node hears the decision: a cleared hit goes on
        (``done``), a confirmed one answers ``failed`` — the node's ``on_hook_failure`` ends the flow
        or a gateway routes it. Telling twice is harmless (the flow answers "gone")."""
        if self.on_complete is None or record.instance_id is None or record.decision is None:
            return
        confirmed = record.decision["decision"] == "confirm"
        try:
            self.on_complete(record.request_id, "failed" if confirmed else "done",
                             {"hit": True, "hits": len(record.hits), "screening_id": str(record.id),
                              "decision": "confirmed" if confirmed else "cleared"})
        except Exception as exc:  # the review stands; the scheduler's re-check of waiting work tells the flow
            log.warning("compliance: screening %s reviewed, its flow not told yet (%s: %s)", record.id,
                        type(exc).__name__, getattr(exc, "message", exc))
