"""What the scheduler fires (infrastructure/flows/scheduler.py): pause ends and SLA timers. These
commands may end without writing (not due yet, or gone), so they always load fresh."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from application.flows.commands import instance_command
from application.shared.base import CommandResult
from application.shared.hot import HotAggregates
from domain.flows.instance import FlowInstance, FlowRuntime
from domain.shared.context import current_context
from domain.shared.errors import RuleViolationError


class Timers:
    clock: Callable[[], datetime]
    hot: HotAggregates
    # from the host: Instances
    instance: Callable[..., FlowInstance]
    _runtime: Callable[..., FlowRuntime]
    save_instance: Callable[[FlowInstance], CommandResult]

    @instance_command(hot=False)
    def end_pause(self, instance_id: UUID, token: str, *, early: bool = False, reason: str = "") -> str:
        """Fired by the scheduler when due (or by an admin, early): "ended", "not_due" or "gone".
        Firing twice has one effect; two schedulers racing lose one save to the other (409)."""
        instance = self.instance(instance_id)
        if early and not reason.strip():
            raise RuleViolationError("ending a pause early needs a reason", field="reason")
        outcome = instance.end_pause(token, self._runtime(instance),
                                     early_by=current_context().actor if early else None, reason=reason)
        if outcome == "ended":
            self.save_instance(instance)
        return outcome

    @instance_command(hot=False)
    def fire_sla(self, instance_id: UUID, task_id: str, kind: str) -> str:
        """Fired by the scheduler for a task's SLA warning (``sla_warn``), deadline (``sla``) or
        timeout step (``timeout``: a reminder, an escalation, an automatic decision)."""
        instance = self.instance(instance_id)
        outcome = instance.sla_timer(task_id, kind, self._runtime(instance))
        if outcome in ("warned", "breached", "reminded", "escalated", "acted"):
            self.save_instance(instance)
        return outcome
