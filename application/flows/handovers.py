"""Handing a task on and sharing the flow: transfer, delegate (委派), add or remove signers
(加签/减签), claim a pool task (认领), urge (催办), copy (抄送) and mark copies read, remarks."""
from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from application.flows.commands import instance_command
from application.shared.base import CommandResult
from application.shared.hot import HotAggregates
from domain.flows.graph import Node
from domain.flows.instance import FlowInstance, FlowRuntime
from domain.shared.context import current_context
from domain.shared.errors import RuleViolationError


class Handovers:
    candidates: Callable[..., list[str]]
    hot: HotAggregates
    # from the host: Instances
    _for_command: Callable[..., FlowInstance]
    _runtime: Callable[..., FlowRuntime]
    save_instance: Callable[[FlowInstance], CommandResult]

    @instance_command()
    def transfer(self, instance_id: UUID, task_id: str, to: str, comment: str) -> CommandResult:
        instance = self._for_command(instance_id)
        self._require_colleague(instance, to, "to")
        instance.transfer(task_id, current_context().actor, to, comment)
        return self.save_instance(instance)

    @instance_command()
    def delegate(self, instance_id: UUID, task_id: str, to: str, comment: str) -> CommandResult:
        instance = self._for_command(instance_id)
        self._require_colleague(instance, to, "to")
        instance.delegate(task_id, current_context().actor, to, comment)
        return self.save_instance(instance)

    @instance_command()
    def add_signer(self, instance_id: UUID, task_id: str, signer: str, position: str, comment: str) -> CommandResult:
        instance = self._for_command(instance_id)
        self._require_colleague(instance, signer, "signer")
        instance.add_signer(task_id, current_context().actor, signer, position, comment)
        return self.save_instance(instance)

    @instance_command()
    def remove_signer(self, instance_id: UUID, task_id: str, signer: str, comment: str) -> CommandResult:
        """减签: the handler who added a signer removes them before they sign."""
        instance = self._for_command(instance_id)
        instance.remove_signer(task_id, current_context().actor, signer, comment, self._runtime(instance))
        return self.save_instance(instance)

    @instance_command()
    def claim(self, instance_id: UUID, task_id: str) -> CommandResult:
        """认领: a pool task's candidate takes it for themselves."""
        instance = self._for_command(instance_id)
        instance.claim(task_id, current_context().actor)
        return self.save_instance(instance)

    @instance_command(commutes=True)
    def urge(self, instance_id: UUID, task_id: str) -> CommandResult:
        instance = self._for_command(instance_id)
        instance.urge(current_context().actor, task_id)
        return self.save_instance(instance)

    @instance_command(commutes=True)
    def cc(self, instance_id: UUID, to: list[str], note: str) -> CommandResult:
        instance = self._for_command(instance_id)
        for who in to:
            self._require_colleague(instance, who, "to", initiator_ok=True)
        instance.cc(current_context().actor, to, note)
        return self.save_instance(instance)

    @instance_command(commutes=True)
    def mark_cc_read(self, instance_id: UUID) -> CommandResult:
        """抄送已读: a recipient marks what was copied to them as read."""
        instance = self._for_command(instance_id)
        instance.mark_cc_read(current_context().actor)
        return self.save_instance(instance)

    @instance_command()
    def remark(self, instance_id: UUID, text: str) -> CommandResult:
        instance = self._for_command(instance_id)
        instance.remark(current_context().actor, text)
        return self.save_instance(instance)

    def _require_colleague(self, instance: FlowInstance, who: str, field: str, *, initiator_ok: bool = False) -> None:
        """Whoever a task is handed to (transfer, delegate, 加签) or a flow copied to is an active
        operator working in the instance's business line; a task never goes to the initiator
        (maker-checker)."""
        if who == instance.initiator and not initiator_ok:
            raise RuleViolationError("the initiator cannot take a task of their own flow", field=field)
        node = Node(id="handover", type="approval", name="handover",
                    assignees=[{"kind": "operator", "value": who.removeprefix("operator:")}])
        if who not in self.candidates(node, {"business_line": instance.business_line}):
            raise RuleViolationError(f"{who} is not an active operator of business line {instance.business_line}",
                                     field=field)
