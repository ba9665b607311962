"""Flow instances as the application keeps them: loaded (or taken from the hot cache), moved with a
``FlowRuntime`` (the pinned graph, assignees from the read models, CEL conditions, the clock),
saved with the children they call, and what a save sets off (``after_save``). Assignees and
conditions are recorded in the instance's events, so replaying never asks again."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.utils import get_topic

from application.flows.calls import CallPlan
from application.shared.base import CommandResult, Loader
from application.shared.hot import HotAggregates
from domain.calendar.working_time import WorkingTime
from domain.flows.graph import Graph, Node
from domain.flows.instance import FlowInstance, FlowRuntime
from infrastructure.eventstore.store import EventStore

Clock = Callable[[], datetime]
Candidates = Callable[[Node, dict[str, Any]], list[str]]


class DueQueue(Protocol):
    """The scheduler's queue of timers (infrastructure/flows/scheduler.py)."""

    def schedule(self, instance_id: UUID, token: str, due: datetime, kind: str = "pause") -> None: ...


WorkingTimeOf = Callable[[UUID | None], WorkingTime]  # a department's business calendar


class NoQueue:
    def schedule(self, instance_id: UUID, token: str, due: datetime, kind: str = "pause") -> None:
        pass


class Instances:
    candidates: Candidates
    clock: Clock
    due_queue: DueQueue
    working_time: WorkingTimeOf
    hot: HotAggregates
    _scopes: dict[UUID, tuple[str, UUID | None, str | None]]
    _store: EventStore
    # from the host: LedgerApplication, Definitions, Conditions, CallActivities, Starts
    load: Loader
    published_graph: Callable[[str, int], Graph]
    published_settings: Callable[[str, int], dict[str, Any]]
    evaluate: Callable[[str, dict[str, Any]], tuple[bool, dict[str, Any]]]
    plan_calls: Callable[[FlowInstance], CallPlan]
    save_with_children: Callable[[FlowInstance, CallPlan], CommandResult]
    settle_calls: Callable[[CommandResult, CallPlan], CommandResult]
    chain: Callable[[FlowInstance], None]
    run_rules: Callable[[FlowInstance], None]
    external_hook: Callable[[str], bool]
    _validated: Callable[..., dict[str, Any]]

    def instance(self, instance_id: UUID, expected_version: int | None = None) -> FlowInstance:
        return self.load(instance_id, FlowInstance, expected_version=expected_version,
                         what=f"flow instance {instance_id}")

    def _for_command(self, instance_id: UUID, expected_version: int | None = None) -> FlowInstance:
        cached = self.hot.take(instance_id)
        if isinstance(cached, FlowInstance) and expected_version in (None, cached.version):
            return cached
        return self.instance(instance_id, expected_version)

    def _graph(self, instance: FlowInstance) -> Graph:
        return self.published_graph(instance.definition_key, instance.definition_version)

    def _settings_of(self, instance: FlowInstance) -> dict[str, Any]:
        return self.published_settings(instance.definition_key, instance.definition_version)

    def _runtime(self, instance: FlowInstance, graph: Graph | None = None) -> FlowRuntime:
        department = instance.department_id
        pinned = graph or self._graph(instance)

        def validate(data: dict[str, Any]) -> dict[str, Any]:
            return self._validated(instance.business_type, instance.form_version, instance.subject, data, pinned)

        return FlowRuntime(pinned, self._resolver(instance), self.evaluate, self.clock(),
                           lambda: self.working_time(department), validate, self.external_hook)

    def _resolver(self, instance: FlowInstance) -> Callable[[Node], list[str]]:
        facts = {"initiator": instance.initiator, "department_id": instance.department_id, "data": instance.data,
                 "business_line": instance.business_line}

        def resolve(node: Node) -> list[str]:
            found = self.candidates(node, facts)
            excluded = instance.excluded_for(node.independent_of)
            if not [c for c in found if c not in excluded] and instance.empty_assignee == "to_admin":
                # Nobody (independent) is left: administrators take it; the instance still leaves
                # out any of them the node must be independent of.
                found = found + self.candidates(Node(id="admins", type="approval", name="admins", assignees=[
                    {"kind": "role", "value": "admin"}]), facts)
            return list(dict.fromkeys(found))

        return resolve

    def scope_of(self, instance_id: UUID) -> dict[str, Any]:
        """An instance's business line, department and fund account: what visibility checks need,
        without replaying the instance. Line and account never change after the start, so they
        are cached; the department can (流程部门调整), so its latest move is read from the store
        each time (never from a cache another process could have made stale)."""
        scope = self._scopes.get(instance_id)
        if scope is None:
            instance = self.instance(instance_id)
            scope = (instance.business_line, instance.department_id, instance.fund_account)
            if len(self._scopes) >= 100_000:
                self._scopes.clear()
            self._scopes[instance_id] = scope
        moved = self._store.latest(instance_id, get_topic(FlowInstance.DepartmentMoved))
        department = moved.to_department if moved is not None else scope[1]
        return {"business_line": scope[0], "department_id": department, "fund_account": scope[2]}

    def save_instance(self, instance: FlowInstance) -> CommandResult:
        """Save an instance with the children it starts (one transaction, ADR 0008), keep it in the
        hot cache, then settle its calls (parents told, cancelled children ended) and set off what
        the save means for it and its new children (``after_save``). The rules its new events
        trigger fire first, and are saved with it."""
        if self._graph(instance).rules:
            self.run_rules(instance)  # IF-THEN rules the command's events trigger (application/flows/rules.py)
        plan = self.plan_calls(instance)
        result = self.save_with_children(instance, plan)
        if instance.status == "completed" and instance.chain is None:
            # after_save is about to chain it and save it again: cache it only once that is done.
            self.hot.discard(instance.id)
        else:
            self.hot.put(instance)
        for child in plan.children:
            self.after_save(child)
        result = self.settle_calls(result, plan)
        self.after_save(instance)
        return result

    def after_save(self, instance: FlowInstance) -> None:
        """A flow that has just completed starts its follow-up (流程接龙); new timers (pause ends,
        SLA warnings and deadlines) go to the scheduler's queue (scheduling one twice is one timer)."""
        if instance.status == "completed" and instance.chain is None:
            self.chain(instance)
        for key, due, kind in instance.due_timers():
            self.due_queue.schedule(instance.id, key, due, kind)
