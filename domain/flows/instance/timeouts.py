"""Timeouts (超时处理): after a task's SLA deadline passes, remind its handlers, then escalate,
approve, reject or return it, as the node's ``timeout`` says (domain/flows/timeouts.py). Each
step is recorded by ``system:sla`` with the rule that fired and the time of the next step.
``Timeouts`` is mixed into ``FlowInstance``."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from domain.flows.graph import Node
from domain.flows.instance import events
from domain.flows.instance.runtime import FlowRuntime
from domain.flows.instance.tasks import Task
from domain.flows.timeouts import SLA_ACTOR, Timeout, step_after
from domain.shared.errors import RuleViolationError

RULE = "timeout"


class Timeouts:
    status: str
    tasks: dict[str, Task]
    # from the host: NodeEngine, Decisions and the events of FlowInstance
    advance: Callable[[FlowRuntime], None]
    _move: Callable[[str, str], None]
    _return_task: Callable[..., None]
    _return_target: Callable[..., str]
    _task_closed: Callable[..., None]
    _finished: Callable[..., None]
    _timeout_armed: Callable[..., None]
    _sla_reminded: Callable[..., None]
    _escalated: Callable[..., None]
    _timeout_acted: Callable[..., None]

    def arm_timeout(self, task: Task, rt: FlowRuntime) -> None:
        """Right after a breach: schedule the timeout's first step (acting at once when it has no
        reminders)."""
        node = rt.node(task.node)
        timeout = node.timeout
        step = step_after(timeout, 0) if timeout is not None else None
        if timeout is None or step is None or task.sla_due_at is None:
            return
        due = datetime.fromisoformat(task.sla_due_at)
        at = rt.after(node, timeout.remind_every_seconds, due) if step == "remind" and timeout.remind_every_seconds \
            else due
        self._timeout_armed(task=task.id, node=node.id, at=at.isoformat(), rule=RULE)
        if at <= rt.now:
            self.timeout_timer(task.id, rt)

    def timeout_timer(self, task_id: str, rt: FlowRuntime) -> str:
        """The scheduler asks when a timeout step falls due: "reminded", "escalated", "acted",
        "not_due" or "gone" (decided, finished, or the step already taken)."""
        task = self.tasks.get(task_id)
        if task is None or task.status != "open" or self.status != "running" or task.timeout_at is None:
            return "gone"
        at = datetime.fromisoformat(task.timeout_at)
        if rt.now < at:
            return "not_due"
        node = rt.node(task.node) if task.node in {n.id for n in rt.graph.nodes} else None
        timeout = node.timeout if node is not None else None
        step = step_after(timeout, task.reminders) if timeout is not None else None
        if node is None or timeout is None or step is None:
            self._timeout_acted(task=task_id, node=task.node, action="none", comment="", rule=RULE,
                                problem="the node has no timeout step left")
            return "acted"
        if step == "remind":
            count = task.reminders + 1
            following = step_after(timeout, count)
            every = timeout.remind_every_seconds
            next_at = rt.after(node, every, at).isoformat() if following and every else None
            self._sla_reminded(task=task_id, node=node.id, count=count, next_at=next_at, rule=RULE)
            return "reminded"
        return self._act(task, node, timeout, rt)

    def _act(self, task: Task, node: Node, timeout: Timeout, rt: FlowRuntime) -> str:
        comment = timeout.comment or f"超时自动处理 timeout: {timeout.action}"
        if timeout.action == "escalate":
            found = rt.resolve(node.model_copy(update={"assignees": timeout.escalate_to}))
            if not found:
                self._timeout_acted(task=task.id, node=node.id, action="escalate", comment=comment, rule=RULE,
                                    problem="nobody to escalate to")
                return "acted"
            keep = task.candidates if timeout.escalate_mode == "add" else []
            candidates = list(dict.fromkeys([*keep, *found]))
            self._escalated(task=task.id, node=node.id, mode=timeout.escalate_mode,
                            added=[c for c in found if c not in task.candidates], candidates=candidates, rule=RULE)
            return "escalated"
        problem = None
        if timeout.action == "auto_return" and timeout.return_to:
            try:
                self._return_target(task, timeout.return_to, rt, any_visited=True)
            except RuleViolationError as exc:  # say why, rather than retry a return that cannot be
                problem = exc.message
        self._timeout_acted(task=task.id, node=node.id, action=timeout.action, comment=comment, rule=RULE,
                            problem=problem)
        if problem is not None:
            return "acted"
        if timeout.action == "auto_approve":
            self._task_closed(task=task.id, outcome="approved")
            self._move(task.token, rt.next_after(node.id))
            self.advance(rt)
        elif timeout.action == "auto_reject":
            self._task_closed(task=task.id, outcome="rejected")
            self._finished(status="rejected", reason=comment)
        elif timeout.action == "auto_return" and timeout.return_to:
            self._return_task(task, SLA_ACTOR, timeout.return_to, comment, rt)
        return "acted"


# -- the events' mutators, bound on FlowInstance (their events are its TimeoutArmed, ...) -------------
@event(events.TimeoutArmed)
def timeout_armed(self: Any, task: str, node: str, at: str, rule: str) -> None:
    self.tasks[task].timeout_at = at


@event(events.SlaReminded)
def sla_reminded(self: Any, task: str, node: str, count: int, next_at: str | None, rule: str) -> None:
    self.tasks[task].reminders, self.tasks[task].timeout_at = count, next_at


@event(events.TaskEscalated)
def escalated(self: Any, task: str, node: str, mode: str, added: list[str], candidates: list[str],
              rule: str) -> None:
    t = self.tasks[task]
    t.candidates, t.timeout_at = candidates, None
    if mode == "reassign":  # as a reassignment: the old handlers' signers go with them
        t.before, t.after, t.after_phase, t.claimed_by = [], [], False, None
        self.delegations = {k: v for k, v in self.delegations.items() if k != task}


@event(events.TimeoutActed)
def timeout_acted(self: Any, task: str, node: str, action: str, comment: str, rule: str,
                  problem: str | None) -> None:
    self.tasks[task].timeout_at = None
    if action == "auto_approve":
        self.decisions += 1  # as an approval: the initiator can no longer withdraw
