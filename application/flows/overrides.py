"""Administrators' overrides (流程监控): jump (跳转), form edit, reassign, terminate, move to another
owning department (流程部门调整). Applied at once, or — where the pinned version's
``override_approval`` is ``second_administrator`` (四眼原则) — tried on a copy (so a request that
could not apply is refused now, not at approval) and recorded as a request another approves."""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jsonpatch
import jsonpointer

from application.flows.commands import instance_command
from application.shared.base import CommandResult
from application.shared.hot import HotAggregates
from domain.flows.graph import Graph, Node
from domain.flows.instance import FlowInstance, FlowRuntime
from domain.forms.diff import patch_with_old_values
from domain.shared.context import current_context
from domain.shared.errors import ConflictError, RuleViolationError


@dataclass(frozen=True)
class PendingOverride(CommandResult):
    """An override recorded as a request: it waits for a second administrator."""
    override_id: str = ""


class OverrideOutdatedError(ConflictError):
    code = "override_outdated"


def _replayed_edit(data: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The requested form edit applied to the data as it stands now, provided the fields it
    replaces still hold the values the requester saw (JSON Patch ``test`` operations)."""
    tests = [{"op": "test", "path": path, "value": value} for path, value in params["old_values"].items()]
    try:
        patched: dict[str, Any] = jsonpatch.apply_patch(data, [*tests, *params["patch"]], in_place=False)
        return patched
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException):
        raise OverrideOutdatedError("the form changed since this edit was requested: ask for it again") from None


class Overrides:
    hot: HotAggregates
    # from the host: Instances, FormEdits
    instance: Callable[..., FlowInstance]
    _graph: Callable[[FlowInstance], Graph]
    _settings_of: Callable[[FlowInstance], dict[str, Any]]
    _runtime: Callable[..., FlowRuntime]
    _resolver: Callable[[FlowInstance], Callable[[Node], list[str]]]
    _edit: Callable[..., None]
    _validated: Callable[..., dict[str, Any]]
    save_instance: Callable[[FlowInstance], CommandResult]

    @instance_command(hot=False)
    def jump(self, instance_id: UUID, target: str, reason: str) -> CommandResult:
        """跳转: an administrator moves the flow to another node, with a reason."""
        return self._override(self.instance(instance_id), "jump", {"target": target}, reason)

    @instance_command(hot=False)
    def terminate(self, instance_id: UUID, reason: str) -> CommandResult:
        return self._override(self.instance(instance_id), "terminate", {}, reason)

    @instance_command(hot=False)
    def reassign(self, instance_id: UUID, task_id: str, assignees: list[dict[str, Any]], reason: str) -> CommandResult:
        """The new candidates are resolved now: a second administrator approves exactly these."""
        instance = self.instance(instance_id)
        node = Node(id="reassigned", type="approval", name="reassigned", assignees=assignees)
        return self._override(instance, "reassign", {"task_id": task_id, "assignees": assignees,
                                                     "candidates": self._resolver(instance)(node)}, reason)

    @instance_command(hot=False)
    def move_department(self, instance_id: UUID, department_id: UUID, reason: str) -> CommandResult:
        """流程部门调整: file a running flow under another owning department."""
        return self._override(self.instance(instance_id), "move_department",
                              {"department_id": str(department_id)}, reason)

    @instance_command(hot=False)
    def edit_form(self, instance_id: UUID, node: str, data: dict[str, Any],
                  expected_version: int | None, reason: str = "") -> CommandResult:
        """Monitoring: an administrator edits the form whatever the node: an override, recorded
        with its reason and who made it."""
        if not reason.strip():
            raise RuleViolationError("an administrator's form edit needs a reason", field="reason")
        return self._override(self.instance(instance_id, expected_version), "edit_form",
                              {"node": node, "data": data}, reason)

    @instance_command(hot=False)
    def approve_override(self, instance_id: UUID, override_id: str) -> CommandResult:
        """A second administrator approves another's override: it applies now, as the requester's
        action, after the approval event (both in one save)."""
        instance = self.instance(instance_id)
        found = instance.approve_override(override_id, current_context().actor)
        self._apply_override(instance, found["action"], found["params"], found["by"], found["reason"])
        return self.save_instance(instance)

    @instance_command(hot=False)
    def decline_override(self, instance_id: UUID, override_id: str, reason: str) -> CommandResult:
        instance = self.instance(instance_id)
        instance.decline_override(override_id, current_context().actor, reason)
        return self.save_instance(instance)

    def _override(self, instance: FlowInstance, action: str, params: dict[str, Any], reason: str) -> CommandResult:
        actor = current_context().actor
        if self._settings_of(instance).get("override_approval") != "second_administrator":
            self._apply_override(instance, action, params, actor, reason)
            return self.save_instance(instance)
        if action == "edit_form":
            params = self._edit_request(instance, params)
        self._apply_override(copy.deepcopy(instance), action, params, actor, reason)
        override = instance.request_override(action, params, actor, reason)
        result = self.save_instance(instance)
        return PendingOverride(id=result.id, version=result.version, position=result.position, override_id=override)

    def _apply_override(self, instance: FlowInstance, action: str, params: dict[str, Any], by: str,
                        reason: str) -> None:
        if action == "jump":
            instance.jump(by, params["target"], reason, self._runtime(instance))
        elif action == "terminate":
            instance.terminate(by, reason)
        elif action == "reassign":
            instance.reassign(params["task_id"], by, params["candidates"], reason)
        elif action == "move_department":
            instance.move_department(UUID(params["department_id"]), by, reason)
        elif action == "edit_form" and "patch" in params:
            self._edit(instance, params["node"], _replayed_edit(instance.data, params), by=by, reason=reason)
        elif action == "edit_form":
            instance.require_running()
            self._edit(instance, params["node"], params["data"], by=by, reason=reason)
        else:
            raise RuleViolationError(f"unknown override {action!r}")

    def _edit_request(self, instance: FlowInstance, params: dict[str, Any]) -> dict[str, Any]:
        """A form edit waiting for approval keeps its patch and the values it replaces, so it
        applies only to the data the requester saw (else 409 ``override_outdated``)."""
        cleaned = self._validated(instance.business_type, instance.form_version, instance.subject, params["data"],
                                  self._graph(instance))
        patch, old_values = patch_with_old_values(instance.data, cleaned)
        if not patch:
            raise RuleViolationError("the edit changes nothing", field="data")
        return {"node": params["node"], "patch": patch, "old_values": old_values}
