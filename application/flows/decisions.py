"""Deciding tasks: approve, reject, return (驳回/退回), take back (拿回), edit the form at one's
node; and the initiator's answers to a return: resubmit or withdraw. One method per use case:
load (or take the hot instance) -> the aggregate decides -> ``save_instance``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from application.flows.commands import instance_command
from application.flows.forms_port import Forms
from application.shared.base import CommandResult
from application.shared.hot import HotAggregates
from domain.flows.form_data import missing_required
from domain.flows.graph import Graph, Node
from domain.flows.instance import FlowInstance, FlowRuntime
from domain.shared.context import current_context
from domain.shared.errors import InvalidInputError, RuleViolationError


class Decisions:
    forms: Forms
    hot: HotAggregates
    # from the host: Instances, FormEdits
    instance: Callable[..., FlowInstance]
    _for_command: Callable[..., FlowInstance]
    _graph: Callable[[FlowInstance], Graph]
    _settings_of: Callable[[FlowInstance], dict[str, Any]]
    _runtime: Callable[..., FlowRuntime]
    _edit_within: Callable[..., None]
    save_instance: Callable[[FlowInstance], CommandResult]

    @instance_command(commutes=True)
    def approve(self, instance_id: UUID, task_id: str, comment: str) -> CommandResult:
        actor = current_context().actor
        instance = self._for_command(instance_id)
        instance.require_decidable(task_id, actor)  # who acts, before what is missing
        self._require_fields(instance, task_id, actor)
        instance.approve(task_id, actor, comment, self._runtime(instance))
        return self.save_instance(instance)

    @instance_command(commutes=True)
    def reject(self, instance_id: UUID, task_id: str, comment: str, reason_code: str | None = None) -> CommandResult:
        instance = self._for_command(instance_id)
        self._require_reason_code(instance, reason_code)
        instance.reject(task_id, current_context().actor, comment, reason_code)
        return self.save_instance(instance)

    @instance_command()
    def return_to(self, instance_id: UUID, task_id: str, target: str, comment: str,
                  reason_code: str | None = None) -> CommandResult:
        instance = self._for_command(instance_id)
        self._require_reason_code(instance, reason_code)
        instance.return_to(task_id, current_context().actor, target, comment, self._runtime(instance),
                           reason_code=reason_code)
        return self.save_instance(instance)

    @instance_command()
    def take_back(self, instance_id: UUID, task_id: str, comment: str) -> CommandResult:
        """拿回: whoever approved the task reclaims it while nobody after it has acted."""
        instance = self._for_command(instance_id)
        instance.take_back(task_id, current_context().actor, comment, self._runtime(instance))
        return self.save_instance(instance)

    @instance_command(hot=False)
    def resubmit(self, instance_id: UUID, data: dict[str, Any] | None = None) -> CommandResult:
        instance = self.instance(instance_id)
        if data is not None:
            graph = self._graph(instance)
            self._edit_within(instance, next(n for n in graph.nodes if n.type == "start"), data)
        instance.resubmit(current_context().actor, self._runtime(instance))
        return self.save_instance(instance)

    @instance_command()
    def withdraw(self, instance_id: UUID, reason: str) -> CommandResult:
        instance = self._for_command(instance_id)
        instance.withdraw(current_context().actor, reason)
        return self.save_instance(instance)

    @instance_command(hot=False)
    def edit_at_task(self, instance_id: UUID, task_id: str, data: dict[str, Any],
                     expected_version: int | None) -> CommandResult:
        """A handler edits the form at their node, within the node's field permissions: a field
        not marked editable there (read-only, hidden or unlisted) cannot change."""
        actor = current_context().actor
        instance = self.instance(instance_id, expected_version)
        task = instance.require_handler(task_id, actor)
        self._edit_within(instance, self._graph(instance).node(task.node), data, by=actor, task=task_id)
        return self.save_instance(instance)

    def _require_reason_code(self, instance: FlowInstance, reason_code: str | None) -> None:
        """A reason code on a rejection or return must be in the pinned version's catalogue
        (settings.reason_codes)."""
        if reason_code is None:
            return
        catalogue = {c["code"] for c in self._settings_of(instance).get("reason_codes", [])}
        if reason_code not in catalogue:
            raise RuleViolationError(f"reason code {reason_code!r} is not in this flow's catalogue"
                                     f" ({', '.join(sorted(catalogue)) or 'none defined'})", field="reason_code")

    def _require_fields(self, instance: FlowInstance, task_id: str, actor: str) -> None:
        """A node's required_fields must be present and valid before its own handler approves
        (a delegate's opinion and an added signer's signature decide nothing, so they pass)."""
        task = instance.task(task_id)
        node: Node = self._graph(instance).node(task.node)
        if not node.required_fields or task.before or task.after_phase \
                or actor in instance.delegations.get(task_id, {}):
            return
        _, errors = self.forms.check_submission(instance.business_type, instance.form_version, instance.subject,
                                                instance.data, {})
        missing = missing_required(instance.data, node.required_fields, errors)
        if missing:
            raise InvalidInputError(f"{node.name} needs {', '.join(m['path'] for m in missing)} before approval",
                                    missing, code="required_fields_missing")
