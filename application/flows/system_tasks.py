"""System work as the application runs it (issue 16; the domain side is
domain/flows/instance/system_work.py, the port application/flows/system_hooks.py). A system node
whose hook is registered records a request; the scheduler (kind ``system``, due at once) calls
``run_system_task``, which runs the hook *outside* any lock or transaction — it may write a file,
render a PDF or call a counter — then records its answer on the instance. A hook that fails
(raises) is retried by the scheduler with a growing delay, the request left open; a hook that
answers ``waiting`` is later completed by whatever it waits for (``complete_system_task``: the
counter's import result, the tenant's seal). Both answers are idempotent: a request answered
once is "gone" the second time, and the hook itself keys its side effects by the request id."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from application.flows.commands import instance_command
from application.flows.system_hooks import HookOutcome, HookRequest, SystemHook
from application.shared.base import CommandResult
from application.shared.hot import HotAggregates
from domain.flows.graph import Graph
from domain.flows.instance import FlowInstance, FlowRuntime
from domain.shared.context import CommandContext, acting_as, current_context
from domain.shared.errors import ConcurrencyConflictError, NotFoundError, RuleViolationError

SYSTEM = "system"          # the scheduler's kind; its key is the request id
ACTOR = "hooks"            # answers are recorded by system:hooks (the person's step is in the correlation id)
RECORD_ATTEMPTS = 4        # an answer is re-applied to a newer instance this often after lost races


class SystemTasks:
    hot: HotAggregates
    system_hooks: Mapping[str, SystemHook]
    # from the host: Instances
    instance: Callable[..., FlowInstance]
    _runtime: Callable[..., FlowRuntime]
    save_instance: Callable[[FlowInstance], CommandResult]

    def register_hook(self, hook: SystemHook) -> None:
        """Make ``hook.name`` a hook system nodes hand work to (at composition, before any start)."""
        self.system_hooks = {**self.system_hooks, hook.name: hook}

    def external_hook(self, name: str) -> bool:
        return name in self.system_hooks

    def hook_problems(self, graph: Graph) -> list[tuple[str, str]]:
        """At publish: each registered hook's own check of its node's ``hook_params`` (a hook may
        offer ``check(params) -> list[str]``), so a misconfigured node never reaches a running flow."""
        problems: list[tuple[str, str]] = []
        for node in graph.nodes:
            check = getattr(self.system_hooks.get(node.hook or ""), "check", None)
            if node.type == "system" and check is not None:
                problems += [(f"nodes.{node.id}.hook_params", p) for p in check(dict(node.hook_params))]
        return problems

    @staticmethod
    def _instance_of(request_id: str) -> UUID:
        try:
            return UUID(request_id.partition(":")[0])
        except ValueError:
            raise NotFoundError(f"no system task {request_id!r}", field="request_id") from None

    @instance_command(hot=False)
    def run_system_task(self, instance_id: UUID, request_id: str) -> str:
        """Run the hook of an open request and record its answer: "completed", "waiting", "rejected",
        "still_waiting" (a waiting request asked again: nothing new), or "gone" (answered already,
        or the flow has moved on). The scheduler calls it; a hook's exception propagates, so the
        scheduler retries."""
        instance = self.instance(instance_id)
        request = instance.system_request(request_id)
        if request is None:
            return "gone"
        hook = self.system_hooks.get(request["hook"])
        if hook is None:  # unregistered since the request (a configuration change): retried, logged
            raise RuleViolationError(f"no system hook {request['hook']!r} is registered")
        outcome = hook.run(self._hook_request(instance, request_id, request))
        if request["status"] == "waiting" and outcome.status == "waiting":
            return "still_waiting"  # asked again (the scheduler's re-check): nothing new outside yet
        return self._record_answer(instance_id, request_id, outcome)

    def _hook_request(self, instance: FlowInstance, request_id: str, request: dict[str, Any]) -> HookRequest:
        node = self._runtime(instance).node(request["node"])
        return HookRequest(
            instance_id=instance.id, request_id=request_id, node=node.id, hook=request["hook"],
            params=dict(node.hook_params), form=dict(instance.data), business_type=instance.business_type,
            business_line=instance.business_line, department_id=instance.department_id,
            initiator=instance.initiator, subject=instance.subject, fund_account=instance.fund_account,
            title=instance.title, outputs={k: dict(v) for k, v in instance.outputs.items()})

    @instance_command(hot=False)
    def complete_system_task(self, instance_id: UUID, request_id: str, status: str,
                             result: dict[str, Any]) -> str:
        """What a waiting hook waited for has happened (done or failed, with its result): the token
        goes on ("completed"), or "gone" when the request was answered or the flow moved on."""
        if self._instance_of(request_id) != instance_id:
            raise NotFoundError(f"no system task {request_id!r} in this flow", field="request_id")
        return self._record_answer(instance_id, request_id, HookOutcome(status, result))  # type: ignore[arg-type]

    def _record_answer(self, instance_id: UUID, request_id: str, outcome: HookOutcome) -> str:
        for attempt in range(RECORD_ATTEMPTS):
            instance = self.instance(instance_id)  # fresh: the hook may have taken a while
            with acting_as(CommandContext.system(ACTOR, current_context().correlation_id)):
                if outcome.status == "waiting":
                    answer = instance.system_work_waits(request_id, outcome.result)
                else:
                    answer = instance.complete_system_work(request_id, outcome.status, outcome.result,
                                                           self._runtime(instance))
            if answer == "gone":
                return answer
            try:
                self.save_instance(instance)
                return answer
            except ConcurrencyConflictError:
                # Someone acted on the flow meanwhile (a comment, a cc): the answer still applies to
                # the newer instance, unless it has moved off the node ("gone" next time round).
                if attempt == RECORD_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")
