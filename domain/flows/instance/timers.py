"""Time: pauses ending, SLA warnings and deadlines falling due, and the timers an instance hands
to the scheduler. ``Timers`` is mixed into ``FlowInstance``."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from domain.flows.instance.runtime import FlowRuntime
from domain.flows.instance.tasks import Task

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Timers:
    status: str
    tokens: dict[str, str]
    tasks: dict[str, Task]
    pauses: dict[str, str]
    # from the host: NodeEngine and the events of FlowInstance
    advance: Callable[[FlowRuntime], None]
    _move: Callable[[str, str], None]
    _pause_ended: Callable[..., None]
    _sla_warned: Callable[..., None]
    _sla_breached: Callable[..., None]
    arm_timeout: Callable[[Task, FlowRuntime], None]
    timeout_timer: Callable[[str, FlowRuntime], str]
    pending_system_work: Callable[[], list[dict[str, Any]]]

    def end_pause(self, token: str, rt: FlowRuntime, *, early_by: str | None = None, reason: str = "") -> str:
        """The scheduler (or an admin, early) ends a pause: "ended", "not_due" or "gone" (already
        ended, returned or finished). Ending one twice has one effect."""
        if token not in self.pauses or self.status != "running":
            return "gone"
        if early_by is None and rt.now < datetime.fromisoformat(self.pauses[token]):
            return "not_due"
        node = self.tokens[token]
        self._pause_ended(token=token, node=node, early_by=early_by, reason=reason)
        self._move(token, rt.next_after(node))
        self.advance(rt)
        return "ended"

    def sla_timer(self, task_id: str, kind: str, rt: FlowRuntime) -> str:
        """The scheduler asks when an SLA timer of a task falls due — ``sla_warn`` (the warning
        before the deadline) or ``sla`` (the deadline): "warned"/"breached", "not_due" or "gone"."""
        if kind == "timeout":
            return self.timeout_timer(task_id, rt)
        now = rt.now
        warning = {"sla_warn": True, "sla": False}[kind]
        task = self.tasks.get(task_id)
        if task is None or task.status != "open" or task.overdue or self.status != "running":
            return "gone"
        due = task.sla_warn_at if warning else task.sla_due_at
        if (task.sla_warned if warning else False) or not due:
            return "gone"
        if now < datetime.fromisoformat(due):
            return "not_due"
        record = self._sla_warned if warning else self._sla_breached
        record(task=task_id, node=task.node, due_at=task.sla_due_at)
        if not warning:
            self.arm_timeout(task, rt)
        return "warned" if warning else "breached"

    def due_timers(self) -> Iterator[tuple[str, datetime, str]]:
        """(token or task id, when, kind) of every timer still to fire: pause ends, and the SLA
        deadline and warning of open tasks."""
        for token, due in self.pauses.items():
            yield token, datetime.fromisoformat(due), "pause"
        for task in self.tasks.values():
            if task.status == "open" and task.sla_due_at and not task.overdue:
                yield task.id, datetime.fromisoformat(task.sla_due_at), "sla"
                if task.sla_warn_at and not task.sla_warned:
                    yield task.id, datetime.fromisoformat(task.sla_warn_at), "sla_warn"
            if task.status == "open" and task.timeout_at:
                yield task.id, datetime.fromisoformat(task.timeout_at), "timeout"
            if task.status == "open":  # task_overdue rules armed for the task
                for rule, at in task.rule_timers.items():
                    yield f"{task.id}:{rule}", datetime.fromisoformat(at), "rule"
        for r in self.pending_system_work():  # work left for a hook, not a timer: due whatever the clock says
            yield r["request_id"], EPOCH, "system"
