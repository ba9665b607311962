"""父子流程 (call activities): a parent flow waits at a call node for a child instance of another
flow and goes on with the child's outcome. (流程接龙, ``chain_to``, starts a flow and does not wait.)

- Starting: a token on a call node gets its child built here and saved *with* the parent in one
  transaction (the parent's ChildStarted names it), so a child is never lost and never started
  twice; replaying the parent finds the call recorded. A child that cannot start is recorded on
  the parent (ChildNotStarted, with the problem) and the token waits there for an administrator.
- Finishing: after a child ends, its parent records ChildFinished and goes on, in a save of its
  own (the child's last handler never waits for, or fails on, the parent's next step). Whatever
  is lost in between (a crash, a lost race, a parent that cannot go on yet) stays visible in the
  read model as a finished child whose parent still waits, and the scheduler re-drives it.
- Cancelling: a parent that ends or moves its token off the call node (jump, return, take-back)
  records ChildCancelled with the save that did it; the child is then terminated with that
  reason, re-driven by the scheduler the same way when that step is lost.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from application.flows.commands import instance_command
from application.shared.base import CommandResult
from application.shared.hot import HotAggregates
from domain.flows.graph import Graph, Node
from domain.flows.instance import FlowInstance, FlowRuntime
from domain.shared.context import CommandContext, acting_as, current_context
from domain.shared.errors import DomainError, InvalidInputError, RuleViolationError
from infrastructure.eventstore.store import EventStore

if TYPE_CHECKING:  # instances.py imports CallPlan from here
    from application.flows.instances import Clock, DueQueue

log = logging.getLogger(__name__)

# Calls driven within one command (children starting or finishing at once, and their parents going
# on): past this depth a start is refused with the reason recorded, and a parent's resumption is
# left to the scheduler, which runs it as a command of its own.
MAX_CALL_DEPTH = 5
_call_depth: ContextVar[int] = ContextVar("flow_call_depth", default=0)
CALLER = "flow-call"          # the system actor that starts, resumes and cancels for the initiator
RESUME, CANCEL = "call", "call_cancel"  # the scheduler's kinds (projections/flows/calls.py finds them)


@dataclass
class CallPlan:
    """What a save of an instance carries for its calls: children started with it (saved in the
    same transaction), calls it stopped waiting for, instances that end with it and have a parent."""
    children: list[FlowInstance] = field(default_factory=list)
    cancelled: list[tuple[UUID, UUID]] = field(default_factory=list)  # (child, parent)
    ended: list[tuple[UUID, UUID]] = field(default_factory=list)  # (child, parent)


def _ends_now(instance: FlowInstance) -> tuple[UUID, UUID] | None:
    """(child, parent): the instance, when it ends with this save and has a parent to tell."""
    if instance.parent_instance is None or not any(
            isinstance(e, (FlowInstance.Completed, FlowInstance.Finished)) for e in instance.pending_events):
        return None
    return instance.id, instance.parent_instance


def _problem(exc: DomainError) -> str:
    paths = [str(e.get("path")) for e in exc.errors] if isinstance(exc, InvalidInputError) else []
    return exc.message + (f" ({', '.join(paths[:10])})" if paths else "")


class CallActivities:
    """Around every save of an instance (``Instances.save_instance``): the calls are planned before,
    the children saved with it, and the rest settled after."""
    clock: Clock
    due_queue: DueQueue
    hot: HotAggregates
    _store: EventStore
    # from the host: LedgerApplication, Instances, Starts
    save_all: Callable[..., int]
    instance: Callable[[UUID], FlowInstance]
    save_instance: Callable[[FlowInstance], CommandResult]
    _graph: Callable[[FlowInstance], Graph]
    _runtime: Callable[[FlowInstance], FlowRuntime]
    _new_instance_from: Callable[..., FlowInstance]
    start_rule_flows: Callable[..., list[FlowInstance]]

    # -- around every save of an instance ------------------------------------------------------
    def plan_calls(self, aggregate: FlowInstance) -> CallPlan:
        plan = CallPlan()
        plan.cancelled = [(child, aggregate.id) for child in aggregate.cancel_calls()]
        waiting = aggregate.calls_to_start(self._graph(aggregate)) if aggregate.tokens else []
        if waiting:
            # The child belongs to the same initiator; the system records that it started it.
            with acting_as(CommandContext.system(CALLER, current_context().correlation_id)):
                for token, node in waiting:
                    plan.children += self._call(aggregate, token, node)
        if aggregate.rule_starts:  # flows IF-THEN rules start (application/flows/rules.py)
            plan.children += self.start_rule_flows(aggregate, self._started_by_rule)
        plan.ended = [ended for i in (aggregate, *plan.children) if (ended := _ends_now(i)) is not None]
        return plan

    def _started_by_rule(self, flow: FlowInstance) -> list[FlowInstance]:
        """What a flow a rule started calls or starts at once, within the same depth limit."""
        depth = _call_depth.get()
        if depth >= MAX_CALL_DEPTH:
            raise RuleViolationError(f"more than {MAX_CALL_DEPTH} flows started in one step (a loop?)")
        reset = _call_depth.set(depth + 1)
        try:
            return self.plan_calls(flow).children
        finally:
            _call_depth.reset(reset)

    def save_with_children(self, aggregate: FlowInstance, plan: CallPlan) -> CommandResult:
        position = self.save_all(aggregate, *plan.children)
        return CommandResult(aggregate.id, aggregate.version, position)

    def settle_calls(self, result: CommandResult, plan: CallPlan) -> CommandResult:
        """After the save: parents told and cancelled children ended. The command's position then
        covers those saves too (read-your-writes)."""
        for child_id, parent_id in plan.ended:
            self._drive(RESUME, parent_id, child_id)
        for child_id, parent_id in plan.cancelled:
            self._drive(CANCEL, child_id, parent_id)
        if not (plan.ended or plan.cancelled):
            return result
        return CommandResult(result.id, result.version, max(result.position, self._store.head()))

    def _call(self, parent: FlowInstance, token: str, node: Node) -> list[FlowInstance]:
        """Build the child for a token on a call node (and, recursively, the children it calls at
        once); the parent records it, or why it could not start."""
        key = node.call_flow or ""
        depth = _call_depth.get()
        reset = _call_depth.set(depth + 1)
        try:
            if depth >= MAX_CALL_DEPTH:
                raise RuleViolationError(f"more than {MAX_CALL_DEPTH} flows called in one step (a loop?)")
            child = self._new_instance_from(parent, key, parent_instance=parent.id, parent_token=token)
            descendants = self.plan_calls(child).children
        except DomainError as exc:  # e.g. the child's form needs more: recorded on the parent, not lost
            parent.record_child(token, node.id, key, None, problem=_problem(exc))
            return []
        finally:
            _call_depth.reset(reset)
        parent.record_child(token, node.id, key, child.id)
        return [child, *descendants]

    def _drive(self, kind: str, instance_id: UUID, other: UUID) -> None:
        """Resume a parent or cancel a child now; when that fails (or calls nest too deep) the
        scheduler's queue gets it, due at once, and its reconciliation with the read model would
        find it anyway."""
        depth = _call_depth.get()
        if depth < MAX_CALL_DEPTH:
            reset = _call_depth.set(depth + 1)
            try:
                with acting_as(CommandContext.system(CALLER, current_context().correlation_id)):
                    self._fire_call(kind, instance_id, other)
                return
            except Exception as exc:  # the save that got here stands; the scheduler retries
                level = logging.INFO if isinstance(exc, DomainError) else logging.ERROR
                log.log(level, "call activity: %s %s/%s left to the scheduler (%s: %s)", kind, instance_id, other,
                        type(exc).__name__, getattr(exc, "message", exc), exc_info=level == logging.ERROR)
            finally:
                _call_depth.reset(reset)
        self.due_queue.schedule(instance_id, str(other), self.clock(), kind)

    # -- the commands the scheduler re-drives ----------------------------------------------------
    @instance_command(hot=False)
    def fire_call(self, kind: str, instance_id: UUID, other: UUID) -> str:
        """``call``: tell parent ``instance_id`` that child ``other`` ended ("resumed", "rejected" or
        "gone"); ``call_cancel``: terminate child ``instance_id`` its parent ``other`` cancelled
        ("cancelled" or "gone"). Idempotent: a second firing is "gone"."""
        return self._fire_call(kind, instance_id, other)

    def _fire_call(self, kind: str, instance_id: UUID, other: UUID) -> str:
        if kind == RESUME:
            return self._resume_parent(instance_id, other)
        if kind == CANCEL:
            return self._cancel_child(instance_id, other)
        raise ValueError(f"not a call activity: {kind!r}")

    def _resume_parent(self, parent_id: UUID, child_id: UUID) -> str:
        child = self.instance(child_id)
        if child.status == "running" or child.parent_instance != parent_id:
            return "gone"
        parent = self.instance(parent_id)  # fresh: this may end without writing
        outcome: str = parent.child_finished(child.id, child.status, child.data, self._runtime(parent))
        if outcome != "gone":
            self.save_instance(parent)
        return outcome

    def _cancel_child(self, child_id: UUID, parent_id: UUID) -> str:
        call = self.instance(parent_id).call_of(child_id)
        if call is None or call["status"] != "cancelled":
            return "gone"
        child = self.instance(child_id)
        if child.status != "running":
            return "gone"
        child.terminate(current_context().actor, call.get("reason") or "the parent flow no longer waits for it")
        self.save_instance(child)
        return "cancelled"
