"""The facts of one flow instance, folded from its events: what the analytics store holds per
instance, per node visit (one task) and per decision (docs/analytics.md). Pure — no I/O: the sink
(projections/analytics/flow_facts.py) feeds it events in order and reads rows off it, and the
statistics' recompute test checks it independently.

Working durations use the business calendar the caller passes (``WorkingTime``), so wall and
working time are both figures of record; a flow's department may change (流程部门调整): facts
carry its department as of each visit."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.calendar.working_time import WorkingTime


@dataclass
class Visit:
    """One task: a node's visit, from its opening to its decision (or cancellation)."""
    task_id: str
    node: str
    mode: str
    department_id: UUID | None
    entered_at: datetime
    handlers: list[str]
    sla_due_at: str | None
    left_at: datetime | None = None
    outcome: str = "open"            # open | approved | rejected | returned | resubmitted | cancelled
    decided_by: list[str] = field(default_factory=list)
    reason_code: str | None = None
    sla_warned: bool = False
    sla_breached: bool = False


@dataclass
class Decision:
    position: int
    occurred_at: datetime
    task_id: str
    node: str
    decision: str                    # approved | rejected | returned
    handler: str
    target_node: str
    reason_code: str | None
    handling_seconds: float          # wall time from the task's opening to this decision
    handling_working_seconds: float


@dataclass
class FlowHistory:
    """The facts so far of one instance (``version``: of its last event folded in)."""
    instance_id: UUID
    version: int = 0
    business_type: str = ""
    definition_key: str = ""
    definition_version: int = 0
    business_line: str = ""
    department_id: UUID | None = None
    initiator: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str = "running"         # running | completed | rejected | withdrawn | terminated
    returns: int = 0
    rejections: int = 0
    visits: dict[str, Visit] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)  # of the last event only (rows to write)

    def apply(self, e: Any, position: int, time: WorkingTime) -> None:
        """Fold one event in (the next version of this instance, in order)."""
        self.version, self.decisions = e.originator_version, []
        handler = getattr(self, "_on_" + type(e).__name__, None)
        if handler is not None:
            handler(e, position, time)

    # -- the instance --------------------------------------------------------------------------------
    def _on_Started(self, e: Any, position: int, time: WorkingTime) -> None:
        self.business_type, self.definition_key = e.business_type, e.definition_key
        self.definition_version, self.business_line = e.definition_version, e.business_line
        self.department_id, self.initiator, self.started_at = e.department_id, e.initiator, e.timestamp

    def _on_Completed(self, e: Any, position: int, time: WorkingTime) -> None:
        self.outcome, self.ended_at = "completed", e.timestamp

    def _on_Finished(self, e: Any, position: int, time: WorkingTime) -> None:
        self.outcome, self.ended_at = e.status, e.timestamp
        self._cancel([v.task_id for v in self.visits.values() if v.outcome == "open"], e.timestamp)

    def _on_DepartmentMoved(self, e: Any, position: int, time: WorkingTime) -> None:
        self.department_id = e.to_department

    def _on_Migrated(self, e: Any, position: int, time: WorkingTime) -> None:
        self.definition_version = e.to_version
        self._cancel([m["task"] for m in e.moves if m.get("wait") == "task_reopened"], e.timestamp)

    # -- tasks -------------------------------------------------------------------------------------------
    def _on_TaskOpened(self, e: Any, position: int, time: WorkingTime) -> None:
        self.visits[e.task] = Visit(e.task, e.node, e.mode, self.department_id, e.timestamp, list(e.candidates),
                                    e.sla_due_at)

    def _on_SlaWarned(self, e: Any, position: int, time: WorkingTime) -> None:
        self.visits[e.task].sla_warned = True

    def _on_SlaBreached(self, e: Any, position: int, time: WorkingTime) -> None:
        self.visits[e.task].sla_breached = True

    def _on_TaskApproved(self, e: Any, position: int, time: WorkingTime) -> None:
        self._decided(e, position, time, "approved", e.by, "", None)

    def _on_SignerApproved(self, e: Any, position: int, time: WorkingTime) -> None:
        self._decided(e, position, time, "approved", e.by, "", None)

    def _on_TaskAutoApproved(self, e: Any, position: int, time: WorkingTime) -> None:
        self._decided(e, position, time, "approved", e.actor, "", None)

    def _on_TimeoutActed(self, e: Any, position: int, time: WorkingTime) -> None:
        if e.action in ("auto_approve", "auto_reject") and e.problem is None:
            self._decided(e, position, time, "approved" if e.action == "auto_approve" else "rejected", e.actor, "",
                          None)

    def _on_TaskRejected(self, e: Any, position: int, time: WorkingTime) -> None:
        self.rejections += 1
        self.visits[e.task].reason_code = e.reason_code
        self._decided(e, position, time, "rejected", e.by, "", e.reason_code)

    def _on_Returned(self, e: Any, position: int, time: WorkingTime) -> None:
        self.returns += 1
        visit = self.visits[e.task]
        visit.reason_code = e.reason_code
        self._decided(e, position, time, "returned", e.by, e.target, e.reason_code)
        visit.outcome, visit.left_at = "returned", e.timestamp
        self._cancel([v.task_id for v in self.visits.values() if v.outcome == "open"], e.timestamp)

    def _on_TaskClosed(self, e: Any, position: int, time: WorkingTime) -> None:
        visit = self.visits[e.task]
        visit.outcome, visit.left_at = e.outcome, e.timestamp

    def _on_TaskTakenBack(self, e: Any, position: int, time: WorkingTime) -> None:
        self._cancel(e.cancelled, e.timestamp)

    def _on_Jumped(self, e: Any, position: int, time: WorkingTime) -> None:
        self._cancel(e.cancelled, e.timestamp)

    def _on_TaskReassigned(self, e: Any, position: int, time: WorkingTime) -> None:
        self.visits[e.task].handlers = list(e.candidates)

    def _on_TaskEscalated(self, e: Any, position: int, time: WorkingTime) -> None:
        self.visits[e.task].handlers = list(e.candidates)

    def _on_RuleAssigned(self, e: Any, position: int, time: WorkingTime) -> None:
        self.visits[e.task].handlers = list(e.candidates)

    def _on_TaskTransferred(self, e: Any, position: int, time: WorkingTime) -> None:
        visit = self.visits[e.task]
        visit.handlers = [e.to if h == e.by else h for h in visit.handlers]

    def _on_TaskClaimed(self, e: Any, position: int, time: WorkingTime) -> None:
        self.visits[e.task].handlers = [e.by]

    # -- helpers -----------------------------------------------------------------------------------------
    def _decided(self, e: Any, position: int, time: WorkingTime, decision: str, by: str, target: str,
                 reason_code: str | None) -> None:
        visit = self.visits[e.task]
        visit.decided_by = [*visit.decided_by, by]
        wall, working = durations(visit.entered_at, e.timestamp, time)
        self.decisions.append(Decision(position, e.timestamp, e.task, visit.node, decision, by, target,
                                       reason_code, wall, working))

    def _cancel(self, task_ids: list[str], at: datetime) -> None:
        for task_id in task_ids:
            visit = self.visits.get(task_id)
            if visit is not None and visit.outcome == "open":
                visit.outcome, visit.left_at = "cancelled", at

    # -- what the facts say ------------------------------------------------------------------------------
    @property
    def first_pass(self) -> bool:
        """一次通过: completed without a return (a rejection ends the flow: not completed)."""
        return self.outcome == "completed" and self.returns == 0

    @property
    def sla_met(self) -> bool:
        return not any(v.sla_breached for v in self.visits.values())


def durations(start: datetime, end: datetime | None, time: WorkingTime) -> tuple[float, float]:
    """(wall seconds, working seconds) from ``start`` to ``end`` (0, 0 while it is open)."""
    if end is None:
        return 0.0, 0.0
    return (end - start).total_seconds(), time.between(start, end).total_seconds()
