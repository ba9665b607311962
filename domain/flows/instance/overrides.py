"""Administrators' overrides (流程监控): jump (跳转), terminate, reassign, move to another owning
department (流程部门调整), and the requests a second administrator approves first (四眼原则).
``Overrides`` is mixed into ``FlowInstance``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.flows.graph import jump_targets_allowed
from domain.flows.instance.errors import OverrideDecidedError, OverrideNotFoundError, SecondAdministratorRequiredError
from domain.flows.instance.runtime import FlowRuntime
from domain.flows.instance.tasks import RESUBMIT, Task
from domain.shared.errors import RuleViolationError


class Overrides:
    tokens: dict[str, str]
    tasks: dict[str, Task]
    department_id: UUID | None
    overrides: dict[str, dict[str, Any]]
    # from the host: TaskRules, Decisions, NodeEngine and the events of FlowInstance
    require_running: Callable[[], None]
    require_open: Callable[[str], Task]
    excluded_for: Callable[[list[str] | None], set[str]]
    advance: Callable[[FlowRuntime], None]
    _await_resubmission: Callable[[str], None]
    _next_id: Callable[[str], str]
    _jumped: Callable[..., None]
    _finished: Callable[..., None]
    _reassigned: Callable[..., None]
    _department_moved: Callable[..., None]
    _override_requested: Callable[..., None]
    _override_approved: Callable[..., None]
    _override_declined: Callable[..., None]

    def jump(self, actor: str, target: str, reason: str, rt: FlowRuntime) -> None:
        """跳转: an administrator moves the flow to a node, with a reason. Open tasks are cancelled;
        targets inside parallel/inclusive regions, joins and ends are refused (as for returns)."""
        self.require_running()
        if not reason.strip():
            raise RuleViolationError("a jump needs a reason", field="reason")
        if target not in {n.id for n in rt.graph.nodes}:
            raise RuleViolationError(f"no node {target!r} in this flow", field="target")
        if target not in jump_targets_allowed(rt.graph):
            raise RuleViolationError(f"a flow cannot jump to {target!r}: end nodes, joins and nodes inside a "
                                     "parallel or inclusive branch are refused", field="target")
        token = self._next_id("t")
        self._jumped(from_nodes=sorted(set(self.tokens.values())), target=target, by=actor, reason=reason,
                     token=token, cancelled=[k for k, t in self.tasks.items() if t.status == "open"])
        if target == "start":
            self._await_resubmission(token)
        self.advance(rt)

    def terminate(self, actor: str, reason: str) -> None:
        self.require_running()
        self._finished(status="terminated", reason=reason)

    def reassign(self, task_id: str, actor: str, candidates: list[str], reason: str) -> None:
        """流程监控: an administrator gives an open task to another role or department. People the
        node must be independent of are left out (segregation of duties binds administrators too)."""
        task = self.require_open(task_id)
        if task.mode == RESUBMIT:
            raise RuleViolationError("a flow returned to its initiator waits for them", field="task_id")
        candidates = [c for c in candidates if c not in self.excluded_for(task.independent_of)]
        if not candidates:
            raise RuleViolationError("nobody matches the new assignees (independent of "
                                     f"{', '.join(task.independent_of) or 'nobody'})", field="assignees")
        self._reassigned(task=task_id, by=actor, candidates=candidates, reason=reason)

    def move_department(self, to: UUID, by: str, reason: str) -> None:
        """流程部门调整: an administrator files the flow under another owning department (who sees
        it, which board it counts on, whose department head later nodes resolve to)."""
        self.require_running()
        if not reason.strip():
            raise RuleViolationError("moving a flow to another department needs a reason", field="reason")
        if to == self.department_id:
            raise RuleViolationError("the flow already belongs to that department", field="department_id")
        self._department_moved(from_department=self.department_id, to_department=to, by=by, reason=reason)

    # -- overrides a second administrator approves (四眼原则) --------------------------------------
    def request_override(self, action: str, params: dict[str, Any], by: str, reason: str) -> str:
        """Record an administrator's override (jump, form edit, reassign, terminate, department
        move) that waits for a second administrator; the application checked it could apply now."""
        self.require_running()
        if not reason.strip():
            raise RuleViolationError("an override needs a reason", field="reason")
        override = f"o{len(self.overrides) + 1}"
        self._override_requested(override=override, action=action, params=params, by=by, reason=reason)
        return override

    def _pending_override(self, override_id: str) -> dict[str, Any]:
        found = self.overrides.get(override_id)
        if found is None:
            raise OverrideNotFoundError(f"no override request {override_id!r} on this flow", field="override_id")
        if found["status"] != "pending":
            raise OverrideDecidedError(f"override request {override_id} was {found['status']} already")
        self.require_running()
        return found

    def approve_override(self, override_id: str, by: str) -> dict[str, Any]:
        """The second administrator approves: the application then applies the action as its
        requester's (in the same save, so an action that cannot apply any more stores nothing)."""
        found = self._pending_override(override_id)
        if by == found["by"]:
            raise SecondAdministratorRequiredError(
                "this flow requires a second administrator to approve an override: not the one who asked")
        self._override_approved(override=override_id, action=found["action"], by=by)
        return found

    def decline_override(self, override_id: str, by: str, reason: str) -> None:
        """Another administrator declines the request, or its requester withdraws it."""
        self._pending_override(override_id)
        if not reason.strip():
            raise RuleViolationError("declining an override needs a reason", field="reason")
        self._override_declined(override=override_id, by=by, reason=reason)
