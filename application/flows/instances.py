"""Flow instances: start, decide, return, withdraw, transfer, pause ends, admin actions.

Assignees are resolved here (read models), conditions evaluated with CEL, and both results
are recorded in the instance's events, so replaying never asks again."""
from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import cel
import jsonpatch
import jsonpointer
from eventsourcing.utils import get_topic

from application.flows.calls import CallActivities
from application.flows.migration import InstanceMigrations
from application.flows.service import FlowsApplication
from application.forms.engine.diff import patch_with_old_values
from application.shared.base import CommandResult, command
from application.shared.hot import HotAggregates
from domain.flows.fields import merge_edit
from domain.flows.form_data import deferred_sections, missing_required, numbers_as_declared
from domain.flows.graph import Graph, Node
from domain.flows.instance import FlowInstance, FlowRuntime
from domain.forms.paths import schema_has_path
from domain.shared.context import CommandContext, acting_as, current_context
from domain.shared.errors import (
    ConcurrencyConflictError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
)
from domain.shared.ids import FUND_ACCOUNT
from domain.shared.text import require_text

Clock = Callable[[], datetime]


# 流程接龙 within one command: flows that complete at once and chain each other stop here.
MAX_CHAIN_DEPTH = 5
_chain_depth: ContextVar[int] = ContextVar("flow_chain_depth", default=0)

DS_REF = re.compile(r"\bds\.([a-z][a-z0-9_]*)")


def _plain(value: Any) -> Any:
    """Values CEL can take: UUIDs, dates and decimals as strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


class _NoQueue:
    def schedule(self, instance_id: UUID, token: str, due: datetime, kind: str = "pause") -> None:
        pass


def _retrying(method: Callable[..., CommandResult]) -> Callable[..., CommandResult]:
    """Actions that commute (two all-sign approvals) retry on a lost race; the domain refuses
    the ones that do not (an any-sign task decided meanwhile answers 409)."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> CommandResult:
        for attempt in range(8):
            try:
                return method(self, *args, **kwargs)
            except ConcurrencyConflictError:
                if attempt == 7:
                    raise
        raise AssertionError("unreachable")

    return run


def _hot(method: Callable[..., CommandResult]) -> Callable[..., CommandResult]:
    """Commands that always write or refuse may start from the instance kept in memory since
    its last command (application/shared/hot.py explains why that is safe)."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> CommandResult:
        return self.hot.run(lambda: method(self, *args, **kwargs))

    return run


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
        return jsonpatch.apply_patch(data, [*tests, *params["patch"]], in_place=False)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException):
        raise OverrideOutdatedError("the form changed since this edit was requested: ask for it again") from None


class FlowInstancesApplication(CallActivities, InstanceMigrations, FlowsApplication):  # migration: ADR 0012
    def __init__(self, store: Any, *, forms: Any, candidates: Callable[[Node, dict[str, Any]], list[str]],
                 clock: Clock | None = None, facts: Callable[[str], dict[str, Any]] | None = None,
                 hot_instances: int = 2_000):
        super().__init__(store)
        self.forms = forms
        self.candidates = candidates
        self.facts = facts or (lambda actor: {})  # initiator attributes for branch conditions
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.due_queue: Any = _NoQueue()
        self._settings: dict[tuple[str, int], dict[str, Any]] = {}
        self._scopes: dict[UUID, tuple[str, UUID | None, str | None]] = {}
        self.hot = HotAggregates(hot_instances)

    def _field_problems(self, definition: Any, graph: Graph) -> list[tuple[str, str]]:
        try:
            business_type = self.forms.current_business_type(definition.business_type)
        except NotFoundError:
            return []
        if not business_type.versions:
            return []  # nothing to check against yet; publishing a form comes first in practice
        schemas = list(business_type.versions[-1]["forms"].values())

        def exists(path: str) -> bool:
            for schema in schemas:
                node: Any = schema
                for part in path.split("."):
                    node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
                if node is not None:
                    return True
            return False
        summary = definition.settings.get("summary_fields", []) if isinstance(definition.settings, dict) else []
        return [(f"nodes.{n.id}", f"field_permissions: the form has no field {path!r}")
                for n in graph.nodes for path in n.field_permissions if not exists(path)] + [
                (f"nodes.{n.id}", f"required_fields: the form has no field {path!r}")
                for n in graph.nodes for path in n.required_fields if not exists(path)] + [
                ("settings.summary_fields", f"the form has no field {path!r}")
                for path in summary if not any(schema_has_path(s, path) for s in schemas)]

    def _graph(self, instance: FlowInstance) -> Graph:
        return self.published_graph(instance.definition_key, instance.definition_version)

    def _published_settings(self, instance: FlowInstance) -> dict[str, Any]:
        key = (instance.definition_key, instance.definition_version)
        settings = self._settings.get(key)
        if settings is None:
            settings = self.current_definition(key[0]).published_version(key[1])["settings"]
            self._settings[key] = settings
        return settings

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

    def _evaluate(self, condition: str, activation: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Evaluate a branch condition. Data sources it names (``ds.<key>``) are queried with the
        parameters of the same names from the activation; their rows are returned so the branch
        decision records what it saw (分支节点可动态判断走向：SQL取值)."""
        used: dict[str, Any] = {}
        for key in dict.fromkeys(DS_REF.findall(condition)):
            params = {k: v for k, v in activation.items() if isinstance(v, (str, int, float, bool))}
            try:
                used[key] = _plain(self.forms.query_data_source(key, params)["rows"])
            except DomainError as exc:
                used[key] = {"error": exc.message}
        try:
            holds = cel.evaluate(condition, {**_plain(activation), "ds": used}) is True
        except Exception as exc:  # noqa: BLE001 - ValueError, TypeError, ZeroDivisionError, OverflowError...
            # A condition over missing or mistyped values, or that divides by zero or overflows,
            # does not hold; the branch decision records why.
            holds = False
            used = {**used, "condition_error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        return holds, used

    def _runtime(self, instance: FlowInstance, graph: Graph | None = None) -> FlowRuntime:
        return FlowRuntime(graph or self._graph(instance), self._resolver(instance), self._evaluate, self.clock())

    def _run(self, instance: FlowInstance, action: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        action(*args, self._runtime(instance), **kwargs)

    def instance(self, instance_id: UUID, expected_version: int | None = None) -> FlowInstance:
        return self.load(instance_id, FlowInstance,
                         expected_version=expected_version, what=f"flow instance {instance_id}")

    def _for_command(self, instance_id: UUID, expected_version: int | None = None) -> FlowInstance:
        cached = self.hot.take(instance_id)
        if cached is not None and expected_version in (None, cached.version):
            return cached
        return self.instance(instance_id, expected_version)

    def save_one(self, aggregate: Any) -> CommandResult:
        plan = self.plan_calls(aggregate)  # 父子流程: children start with it, in the same transaction
        result = self.save_with_children(aggregate, plan)
        if isinstance(aggregate, FlowInstance):
            if aggregate.status == "completed" and aggregate.chain is None:
                # _chain is about to change and save it again: cache it only once that is done.
                self.hot.discard(aggregate.id)
            else:
                self.hot.put(aggregate)
        return self.settle_calls(result, plan)  # parents told, cancelled children ended (flows/calls.py)

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

    @command
    def start_instance(self, key: str, subject: str, data: dict[str, Any], *, title: str,
                       fund_account: str | None = None, department_id: UUID | None = None) -> CommandResult:
        return self._start(key, subject, data, title=title, fund_account=fund_account, department_id=department_id,
                           initiator=current_context().actor)

    def _start(self, key: str, subject: str, data: dict[str, Any], *, title: str, fund_account: str | None,
               department_id: UUID | None, initiator: str, chained_from: UUID | None = None) -> CommandResult:
        instance = self._new_instance(key, subject, data, title=title, fund_account=fund_account,
                                      department_id=department_id, initiator=initiator, chained_from=chained_from)
        result = self.save_one(instance)
        self.schedule_pauses(instance)
        return result

    def _new_instance(self, key: str, subject: str, data: dict[str, Any], *, title: str, fund_account: str | None,
                      department_id: UUID | None, initiator: str, chained_from: UUID | None = None,
                      parent_instance: UUID | None = None, parent_token: str | None = None) -> FlowInstance:
        """Start at the latest version. The start node's field permissions hold as at resubmission
        (a chained follow-up and a called child take the other flow's data as it stands)."""
        require_text(title, "title")
        if fund_account is not None and not FUND_ACCOUNT.fullmatch(fund_account):
            raise RuleViolationError("a fund account is 6-20 ASCII digits", field="fund_account")
        definition = self.current_definition(key)
        if not definition.versions:
            raise RuleViolationError(f"flow {key!r} has no published version")
        business_type = self.forms.current_business_type(definition.business_type)
        if not business_type.versions:
            raise RuleViolationError(f"business type {definition.business_type!r} has no published form")
        form_version = business_type.versions[-1]["number"]
        version = definition.versions[-1]
        graph = self.published_graph(key, version["number"])
        start = next(n for n in graph.nodes if n.type == "start")
        if start.field_permissions and chained_from is None and parent_instance is None:
            data = merge_edit({}, data, start.field_permissions, start.name)
        cleaned = self._validated(business_type.code, form_version, subject, data, graph)
        instance = FlowInstance(
            definition_key=key, definition_version=version["number"],
            empty_assignee=version["settings"]["empty_assignee"], deduplication=version["settings"]["deduplication"],
            business_type=business_type.code, form_version=form_version, subject=subject,
            business_line=definition.business_line, fund_account=fund_account, department_id=department_id,
            initiator=initiator, title=title, data=cleaned, chained_from=chained_from,
            initiator_facts=self.facts(initiator), parent_instance=parent_instance, parent_token=parent_token)
        self._run(instance, instance.advance)
        return instance

    def _new_instance_from(self, source: FlowInstance, key: str, **link: Any) -> FlowInstance:
        """A flow started by another (流程接龙, 父子流程): in the same business line, for the same
        initiator, subject, fund account and department, with the other's title and data."""
        if self.current_definition(key).business_line != source.business_line:
            raise RuleViolationError(f"flow {key!r} belongs to another business line")
        return self._new_instance(key, source.subject, source.data, title=source.title,
                                  fund_account=source.fund_account, department_id=source.department_id,
                                  initiator=source.initiator, **link)

    @command
    @_retrying
    @_hot
    def approve(self, instance_id: UUID, task_id: str, comment: str) -> CommandResult:
        instance = self._for_command(instance_id)
        instance.require_decidable(task_id, current_context().actor)  # who acts before what is missing
        self._require_fields(instance, task_id, current_context().actor)
        self._run(instance, instance.approve, task_id, current_context().actor, comment)
        result = self.save_one(instance)
        self.schedule_pauses(instance)
        return result

    @command
    @_retrying
    @_hot
    def reject(self, instance_id: UUID, task_id: str, comment: str, reason_code: str | None = None) -> CommandResult:
        instance = self._for_command(instance_id)
        self._require_reason_code(instance, reason_code)
        instance.reject(task_id, current_context().actor, comment, reason_code)
        return self.save_one(instance)

    def _require_reason_code(self, instance: FlowInstance, reason_code: str | None) -> None:
        """A reason code on a rejection or return must be in the pinned version's catalogue
        (settings.reason_codes)."""
        if reason_code is None:
            return
        catalogue = {c["code"] for c in self._published_settings(instance).get("reason_codes", [])}
        if reason_code not in catalogue:
            raise RuleViolationError(f"reason code {reason_code!r} is not in this flow's catalogue"
                                     f" ({', '.join(sorted(catalogue)) or 'none defined'})", field="reason_code")

    @command
    @_hot
    def return_to(self, instance_id: UUID, task_id: str, target: str, comment: str,
                  reason_code: str | None = None) -> CommandResult:
        instance = self._for_command(instance_id)
        self._require_reason_code(instance, reason_code)
        self._run(instance, instance.return_to, task_id, current_context().actor, target, comment,
                  reason_code=reason_code)
        result = self.save_one(instance)
        self.schedule_pauses(instance)
        return result

    @command
    @_hot
    def take_back(self, instance_id: UUID, task_id: str, comment: str) -> CommandResult:
        """拿回: whoever approved the task reclaims it while nobody after it has acted."""
        instance = self._for_command(instance_id)
        self._run(instance, instance.take_back, task_id, current_context().actor, comment)
        result = self.save_one(instance)
        self.schedule_pauses(instance)
        return result

    @command
    @_hot
    def remove_signer(self, instance_id: UUID, task_id: str, signer: str, comment: str) -> CommandResult:
        """减签: the handler who added a signer removes them before they sign."""
        instance = self._for_command(instance_id)
        self._run(instance, instance.remove_signer, task_id, current_context().actor, signer, comment)
        result = self.save_one(instance)
        self.schedule_pauses(instance)
        return result

    @command
    def jump(self, instance_id: UUID, target: str, reason: str) -> CommandResult:
        """跳转: an administrator moves the flow to another node, with a reason."""
        return self._override(self.instance(instance_id), "jump", {"target": target}, reason)

    @command
    def resubmit(self, instance_id: UUID, data: dict[str, Any] | None = None) -> CommandResult:
        instance = self.instance(instance_id)
        if data is not None:
            graph = self._graph(instance)
            self._edit_within(instance, next(n for n in graph.nodes if n.type == "start"), data)
        self._run(instance, instance.resubmit, current_context().actor)
        result = self.save_one(instance)
        self.schedule_pauses(instance)
        return result

    @command
    @_hot
    def withdraw(self, instance_id: UUID, reason: str) -> CommandResult:
        instance = self._for_command(instance_id)
        instance.withdraw(current_context().actor, reason)
        return self.save_one(instance)

    @command
    def terminate(self, instance_id: UUID, reason: str) -> CommandResult:
        return self._override(self.instance(instance_id), "terminate", {}, reason)

    @command
    @_hot
    def transfer(self, instance_id: UUID, task_id: str, to: str, comment: str) -> CommandResult:
        instance = self._for_command(instance_id)
        self._require_colleague(instance, to, "to")
        instance.transfer(task_id, current_context().actor, to, comment)
        return self.save_one(instance)

    @command
    @_hot
    def delegate(self, instance_id: UUID, task_id: str, to: str, comment: str) -> CommandResult:
        instance = self._for_command(instance_id)
        self._require_colleague(instance, to, "to")
        instance.delegate(task_id, current_context().actor, to, comment)
        return self.save_one(instance)

    @command
    @_hot
    def add_signer(self, instance_id: UUID, task_id: str, signer: str, position: str, comment: str) -> CommandResult:
        instance = self._for_command(instance_id)
        self._require_colleague(instance, signer, "signer")
        instance.add_signer(task_id, current_context().actor, signer, position, comment)
        return self.save_one(instance)

    @command
    @_retrying
    @_hot
    def urge(self, instance_id: UUID, task_id: str) -> CommandResult:
        instance = self._for_command(instance_id)
        instance.urge(current_context().actor, task_id)
        return self.save_one(instance)

    @command
    @_retrying
    @_hot
    def cc(self, instance_id: UUID, to: list[str], note: str) -> CommandResult:
        instance = self._for_command(instance_id)
        for who in to:
            self._require_colleague(instance, who, "to", initiator_ok=True)
        instance.cc(current_context().actor, to, note)
        return self.save_one(instance)

    @command
    @_hot
    def claim(self, instance_id: UUID, task_id: str) -> CommandResult:
        """认领: a pool task's candidate takes it for themselves."""
        instance = self._for_command(instance_id)
        instance.claim(task_id, current_context().actor)
        return self.save_one(instance)

    @command
    @_retrying
    @_hot
    def mark_cc_read(self, instance_id: UUID) -> CommandResult:
        """抄送已读: a recipient marks what was copied to them as read."""
        instance = self._for_command(instance_id)
        instance.mark_cc_read(current_context().actor)
        return self.save_one(instance)

    @command
    def reassign(self, instance_id: UUID, task_id: str, assignees: list[dict[str, Any]], reason: str) -> CommandResult:
        """The new candidates are resolved now: a second administrator approves exactly these."""
        instance = self.instance(instance_id)
        node = Node(id="reassigned", type="approval", name="reassigned", assignees=assignees)
        return self._override(instance, "reassign", {"task_id": task_id, "assignees": assignees,
                                                     "candidates": self._resolver(instance)(node)}, reason)

    @command
    def move_department(self, instance_id: UUID, department_id: UUID, reason: str) -> CommandResult:
        """流程部门调整: file a running flow under another owning department."""
        return self._override(self.instance(instance_id), "move_department",
                              {"department_id": str(department_id)}, reason)

    @command
    def approve_override(self, instance_id: UUID, override_id: str) -> CommandResult:
        """A second administrator approves another's override: it applies now, as the requester's
        action, after the approval event (both in one save)."""
        instance = self.instance(instance_id)
        found = instance.approve_override(override_id, current_context().actor)
        self._apply_override(instance, found["action"], found["params"], found["by"], found["reason"])
        return self._saved(instance)

    @command
    def decline_override(self, instance_id: UUID, override_id: str, reason: str) -> CommandResult:
        instance = self.instance(instance_id)
        instance.decline_override(override_id, current_context().actor, reason)
        return self.save_one(instance)

    def _override(self, instance: FlowInstance, action: str, params: dict[str, Any], reason: str) -> CommandResult:
        """An administrator's override: applied at once, or — where the pinned version's
        ``override_approval`` is ``second_administrator`` — tried on a copy (so a request that
        could not apply is refused now, not at approval) and recorded as a pending request."""
        actor = current_context().actor
        if self._published_settings(instance).get("override_approval") != "second_administrator":
            self._apply_override(instance, action, params, actor, reason)
            return self._saved(instance)
        if action == "edit_form":
            params = self._edit_request(instance, params)
        self._apply_override(copy.deepcopy(instance), action, params, actor, reason)
        override = instance.request_override(action, params, actor, reason)
        result = self.save_one(instance)
        return PendingOverride(id=result.id, version=result.version, position=result.position, override_id=override)

    def _apply_override(self, instance: FlowInstance, action: str, params: dict[str, Any], by: str,
                        reason: str) -> None:
        if action == "jump":
            self._run(instance, instance.jump, by, params["target"], reason)
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

    def _saved(self, instance: FlowInstance) -> CommandResult:
        result = self.save_one(instance)
        self.schedule_pauses(instance)
        return result

    @command
    @_hot
    def remark(self, instance_id: UUID, text: str) -> CommandResult:
        instance = self._for_command(instance_id)
        instance.remark(current_context().actor, text)
        return self.save_one(instance)

    @command
    def edit_form(self, instance_id: UUID, node: str, data: dict[str, Any],
                  expected_version: int | None, reason: str = "") -> CommandResult:
        """Monitoring: an administrator edits the form whatever the node: an override, recorded
        with its reason and who made it."""
        if not reason.strip():
            raise RuleViolationError("an administrator's form edit needs a reason", field="reason")
        return self._override(self.instance(instance_id, expected_version), "edit_form",
                              {"node": node, "data": data}, reason)

    @command
    def edit_at_task(self, instance_id: UUID, task_id: str, data: dict[str, Any],
                     expected_version: int | None) -> CommandResult:
        """A handler edits the form at their node, within the node's field permissions: a field
        not marked editable there (read-only, hidden or unlisted) cannot change."""
        instance = self.instance(instance_id, expected_version)
        task = instance.require_handler(task_id, current_context().actor)
        self._edit_within(instance, self._graph(instance).node(task.node), data,
                          by=current_context().actor, task=task_id)
        return self.save_one(instance)

    def _edit_within(self, instance: FlowInstance, node: Node, data: dict[str, Any], **who: Any) -> None:
        """The one edit-permission check (edits at a task and resubmission at the start node):
        deny by default, hidden fields merged from the stored data (domain/flows/fields.py)."""
        self._edit(instance, node.id, merge_edit(instance.data, data, node.field_permissions, node.name), **who)

    def _edit(self, instance: FlowInstance, node: str, data: dict[str, Any], **who: Any) -> None:
        cleaned = self._validated(instance.business_type, instance.form_version, instance.subject, data,
                                  self._graph(instance))
        patch, old_values = patch_with_old_values(instance.data, cleaned)
        if patch:
            instance.edit_form(node=node, patch=patch, old_values=old_values, data=cleaned, **who)

    def _validated(self, code: str, number: int, subject: str, data: Any, graph: Graph) -> dict[str, Any]:
        """The form's own validation, with integers taken as numbers where the schema says number,
        and without demanding the sections a later node owns (domain/flows/form_data.py)."""
        schema = self.forms.compiled(code, number, subject).schema
        cleaned, errors = self.forms.check_submission(code, number, subject, numbers_as_declared(schema, data), {})
        deferred = deferred_sections(graph, schema)
        errors = [e for e in errors if not (e["rule"] == "required" and e["path"] in deferred)]
        if errors:
            raise InvalidInputError(f"{len(errors)} field(s) need attention", errors, code="invalid_form_data")
        return cleaned

    def _require_fields(self, instance: FlowInstance, task_id: str, actor: str) -> None:
        """A node's required_fields must be present and valid before its own handler approves
        (a delegate's opinion and an added signer's signature decide nothing, so they pass)."""
        task = instance.task(task_id)
        node = self._graph(instance).node(task.node)
        if not node.required_fields or task.before or task.after_phase \
                or actor in instance.delegations.get(task_id, {}):
            return
        _, errors = self.forms.check_submission(instance.business_type, instance.form_version, instance.subject,
                                                instance.data, {})
        missing = missing_required(instance.data, node.required_fields, errors)
        if missing:
            raise InvalidInputError(f"{node.name} needs {', '.join(m['path'] for m in missing)} before approval",
                                    missing, code="required_fields_missing")

    @command
    def end_pause(self, instance_id: UUID, token: str, *, early: bool = False, reason: str = "") -> str:
        """Fired by the scheduler when due (or by an admin, early): "ended", "not_due" or "gone".
        Firing twice has one effect; two schedulers racing lose one save to the other (409)."""
        instance = self.instance(instance_id)
        if early and not reason.strip():
            raise RuleViolationError("ending a pause early needs a reason", field="reason")
        outcome = instance.end_pause(token, self._runtime(instance),
                                     early_by=current_context().actor if early else None, reason=reason)
        if outcome == "ended":
            self.save_one(instance)
            self.schedule_pauses(instance)
        return outcome

    def schedule_pauses(self, instance: FlowInstance) -> None:
        """After a save: hand new timers (pause ends, SLA deadlines) to the scheduler's queue, and
        start the follow-up flow when this one has just completed (流程接龙)."""
        if instance.status == "completed" and instance.chain is None:
            self._chain(instance)
        for key, due, kind in instance.due_timers():
            self.due_queue.schedule(instance.id, key, due, kind)

    def _chain(self, instance: FlowInstance) -> None:
        next_flow = self._published_settings(instance).get("chain_to")
        if not next_flow:
            return
        started, problem = None, None
        depth = _chain_depth.get()
        # The follow-up belongs to the same initiator; the system records that it started it.
        with acting_as(CommandContext.system("flow-chaining", current_context().correlation_id)):
            token = _chain_depth.set(depth + 1)
            try:
                if depth >= MAX_CHAIN_DEPTH:
                    raise RuleViolationError(f"more than {MAX_CHAIN_DEPTH} flows chained in one step (a loop?)")
                follow_up = self._new_instance_from(instance, next_flow, chained_from=instance.id)
                self.save_one(follow_up)
                self.schedule_pauses(follow_up)
                started = follow_up.id
            except DomainError as exc:  # e.g. the follow-up's form needs more: recorded, not lost
                problem = exc.message
            finally:
                _chain_depth.reset(token)
            instance.record_chain(next_flow, started, problem)
            self.save_one(instance)

    @command
    def fire_sla(self, instance_id: UUID, task_id: str, kind: str) -> str:
        """Fired by the scheduler for a task's SLA warning (``sla_warn``) or deadline (``sla``)."""
        instance = self.instance(instance_id)
        outcome = instance.sla_timer(task_id, kind, self.clock())
        if outcome in ("warned", "breached"):
            self.save_one(instance)
        return outcome
