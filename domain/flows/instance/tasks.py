"""Tasks: what people decide at approval nodes (and the initiator's resubmission after a return),
and the rules for who may act on one now. ``TaskRules`` is mixed into ``FlowInstance``."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from domain.flows.graph import INITIATOR, Node
from domain.flows.instance.errors import (
    InstanceNotRunningError,
    SegregationOfDutiesError,
    TaskAlreadyDecidedError,
    TaskNotFoundError,
)
from domain.flows.instance.runtime import FlowRuntime
from domain.shared.errors import PermissionDeniedError, RuleViolationError

RESUBMIT = "resubmit"  # the mode of the task that puts a returned flow in the initiator's todo


@dataclass(slots=True)
class Task:
    """One task as the instance's events built it (TaskOpened, then what happened to it). Lists
    are replaced, never changed in place: the event that set one may still be waiting to be saved."""
    id: str
    token: str
    node: str
    mode: str                      # single | any | all | sequential | vote | resubmit
    candidates: list[str]
    threshold: float | None = None
    status: str = "open"           # open | approved | rejected | returned | resubmitted | cancelled
    approvals: list[str] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    sla_due_at: str | None = None
    sla_warn_at: str | None = None
    sla_warned: bool = False
    overdue: bool = False
    before: list[str] = field(default_factory=list)   # 加签: signers before the candidates, in order
    after: list[str] = field(default_factory=list)    # ... and after them, once the node's rule is met
    after_phase: bool = False
    independent_of: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    added_by: dict[str, str] = field(default_factory=dict)  # added signer -> who added them
    signed: list[str] = field(default_factory=list)         # added signers who signed
    claimed_by: str | None = None
    reminders: int = 0                  # 超时提醒 sent since the deadline passed
    timeout_at: str | None = None       # when the node's timeout takes its next step
    pool: list[str] = field(default_factory=list)           # 认领: who the task was offered to
    rule_timers: dict[str, str] = field(default_factory=dict)  # task_overdue rule -> when it fires

    def __getitem__(self, key: str) -> Any:
        """Read access by name, as callers written against the former dict tasks read them."""
        return getattr(self, key)

    def counted(self, decided: list[str]) -> int:
        """Approvals (or rejections) by the current candidates: after a reassignment the old
        candidates' decisions no longer count."""
        return len(set(decided) & set(self.candidates))

    def passes(self) -> bool:
        """The node's own rule is met (signers added after may still be pending)."""
        approvals = self.counted(self.approvals)
        if self.mode in ("single", "any"):
            return approvals >= 1
        if self.mode == "vote":
            return approvals / len(self.candidates) >= (self.threshold or 1.0)
        return approvals >= len(self.candidates)  # all, sequential

    def vote_still_open(self) -> bool:
        """A vote fails only once its threshold is out of reach."""
        approvals = self.counted(self.approvals)
        remaining = len(self.candidates) - approvals - self.counted(self.rejections)
        return (approvals + remaining) / len(self.candidates) >= (self.threshold or 1.0)


class SlaTimes(TypedDict):
    sla_due_at: str | None
    sla_warn_at: str | None


class Segregation(TypedDict, total=False):
    """A task's segregation of duties: the nodes (or the initiator) it must be independent of, and
    whom that excluded when it opened. Left out for a task anyone may act on."""
    independent_of: list[str]
    excluded: list[str]


def sla_times(node: Node, rt: FlowRuntime) -> SlaTimes:
    """A task's SLA deadline and warning time, recorded when it opens: working time of the
    business calendar unless the node counts wall time (``sla_basis``)."""
    sla = warn = None
    if node.sla_seconds:
        sla = rt.after(node, node.sla_seconds).isoformat()
        if node.sla_warning_seconds:
            warn = rt.after(node, node.sla_seconds - node.sla_warning_seconds).isoformat()
    return {"sla_due_at": sla, "sla_warn_at": warn}


def seq_of(task_id: str) -> int:
    """Task ids are k<n>, n counting up as the instance moves: later tasks have larger n."""
    return int(task_id[1:])


class TaskRules:
    """Who may act on a task now."""
    status: str
    initiator: str
    tasks: dict[str, Task]
    acted: dict[str, list[str]]
    approvers: list[str]
    delegations: dict[str, dict[str, str]]
    deduplication: str
    _task_closed: Callable[..., None]

    def task(self, task_id: str) -> Task:
        if task_id not in self.tasks:
            raise TaskNotFoundError(f"no task {task_id!r} in this instance", field="task_id")
        return self.tasks[task_id]

    def require_running(self) -> None:
        if self.status != "running":
            raise InstanceNotRunningError(f"the flow is {self.status}")

    def require_open(self, task_id: str) -> Task:
        task = self.task(task_id)
        self.require_running()
        if task.status != "open":
            raise TaskAlreadyDecidedError("this task is no longer open")
        return task

    def current_handlers(self, task: Task) -> list[str]:
        """Who may act on the task now: a signer added before comes first, one added after comes
        once the node's own rule is met; otherwise the candidates (sequential: the next in line)."""
        if task.before:
            return task.before[:1]
        if task.after_phase:
            return task.after[:1]
        done = set(task.approvals)
        pending = [c for c in task.candidates if c not in done]
        return pending[:1] if task.mode == "sequential" else pending

    def require_handler(self, task_id: str, actor: str) -> Task:
        """The actor is a current handler of the open task, and not someone the node must be
        independent of."""
        task = self.task(task_id)
        self.require_running()
        if task.status != "open":
            raise TaskAlreadyDecidedError("this task has already been decided by someone else")
        self.require_independent(task, actor)
        if actor not in self.current_handlers(task):
            raise PermissionDeniedError("you are not a current handler of this task")
        return task

    def require_decidable(self, task_id: str, actor: str) -> Task:
        """A handler deciding (approve, reject, return, hand over): a flow returned to its initiator
        is answered by resubmitting or withdrawing it, not by deciding its resubmission task."""
        task = self.require_handler(task_id, actor)
        if task.mode == RESUBMIT:
            raise RuleViolationError("this flow was returned to you: resubmit it (or withdraw it)", field="task_id")
        return task

    def require_own_handler(self, task_id: str, actor: str, what: str) -> Task:
        """A current handler acting in their own right: a delegate (委派) only answers by approving,
        and an added signer (加签) only signs."""
        task = self.require_decidable(task_id, actor)
        if actor in self.delegations.get(task_id, {}):
            raise PermissionDeniedError(f"a delegate gives an opinion by approving; only the delegator may {what}")
        if actor not in task.candidates:
            raise PermissionDeniedError(f"an added signer signs by approving; only the task's candidates may {what}")
        return task

    def excluded_for(self, independent_of: list[str] | None) -> set[str]:
        """Who may not act at a node independent of these (the initiator, and whoever approved or
        edited at a named node since its latest task there opened: "in this round")."""
        out: set[str] = set()
        for ref in independent_of or []:
            out |= {self.initiator} if ref == INITIATOR else set(self.acted.get(ref, []))
        return out

    def require_independent(self, task: Task, who: str, field: str | None = None) -> None:
        if who in self.excluded_for(task.independent_of):
            raise SegregationOfDutiesError(f"{who} may not act at {task.node!r}: it must be independent of "
                                           f"{', '.join(task.independent_of)}", field=field)

    def _acted_at(self, node: str, who: str) -> None:
        if who not in self.acted.get(node, []):
            self.acted = {**self.acted, node: [*self.acted.get(node, []), who]}

    def _dedup_approver(self, candidates: list[str]) -> str | None:
        """approve_all: someone who already approved in this flow; approve_consecutive: whoever
        approved the step just before."""
        if self.deduplication == "approve_all":
            return next((c for c in candidates if c in self.approvers), None)
        if self.deduplication == "approve_consecutive" and self.approvers and self.approvers[-1] in candidates:
            return self.approvers[-1]
        return None

    def open_task(self, token: str) -> Task | None:
        return next((t for t in self.tasks.values() if t.token == token and t.status == "open"), None)
