"""Starting flows: by a person (at the latest published version, held to the start node's field
permissions), and by another flow — a follow-up when one completes (流程接龙, ``chain_to``) or a
child a call node starts (父子流程, application/flows/calls.py)."""
from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from application.flows.commands import instance_command
from application.flows.forms_port import Forms
from application.shared.base import CommandResult
from application.shared.hot import HotAggregates
from domain.flows.definition import FlowDefinition
from domain.flows.fields import merge_edit
from domain.flows.graph import Graph
from domain.flows.instance import FlowInstance, FlowRuntime
from domain.shared.context import CommandContext, acting_as, current_context
from domain.shared.errors import DomainError, RuleViolationError
from domain.shared.ids import FUND_ACCOUNT
from domain.shared.text import require_text

# 流程接龙 within one command: flows that complete at once and chain each other stop here.
MAX_CHAIN_DEPTH = 5
_chain_depth: ContextVar[int] = ContextVar("flow_chain_depth", default=0)


class Starts:
    forms: Forms
    facts: Callable[[str], dict[str, Any]]
    hot: HotAggregates
    # from the host: Definitions, Instances, FormEdits
    current_definition: Callable[[str], FlowDefinition]
    published_graph: Callable[[str, int], Graph]
    _settings_of: Callable[[FlowInstance], dict[str, Any]]
    _runtime: Callable[..., FlowRuntime]
    _validated: Callable[..., dict[str, Any]]
    save_instance: Callable[[FlowInstance], CommandResult]
    run_rules: Callable[..., None]

    @instance_command(hot=False)
    def start_instance(self, key: str, subject: str, data: dict[str, Any], *, title: str,
                       fund_account: str | None = None, department_id: UUID | None = None) -> CommandResult:
        instance = self._new_instance(key, subject, data, title=title, fund_account=fund_account,
                                      department_id=department_id, initiator=current_context().actor)
        return self.save_instance(instance)

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
        rt = self._runtime(instance, graph)
        self.run_rules(instance, rt)  # instance_started rules act before the first step (a field they set routes)
        instance.advance(rt)
        self.run_rules(instance, rt)  # and what the first steps trigger (a child is saved without save_instance)
        return instance

    def _new_instance_from(self, source: FlowInstance, key: str, **link: Any) -> FlowInstance:
        """A flow started by another (流程接龙, 父子流程): in the same business line, for the same
        initiator, subject, fund account and department, with the other's title and data."""
        if self.current_definition(key).business_line != source.business_line:
            raise RuleViolationError(f"flow {key!r} belongs to another business line")
        return self._new_instance(key, source.subject, source.data, title=source.title,
                                  fund_account=source.fund_account, department_id=source.department_id,
                                  initiator=source.initiator, **link)

    def chain(self, instance: FlowInstance) -> None:
        """流程接龙: the completed flow's follow-up starts for the same initiator (the system records
        that it started it), or the completed flow records why it could not."""
        next_flow = self._settings_of(instance).get("chain_to")
        if not next_flow:
            return
        started, problem = None, None
        depth = _chain_depth.get()
        with acting_as(CommandContext.system("flow-chaining", current_context().correlation_id)):
            token = _chain_depth.set(depth + 1)
            try:
                if depth >= MAX_CHAIN_DEPTH:
                    raise RuleViolationError(f"more than {MAX_CHAIN_DEPTH} flows chained in one step (a loop?)")
                follow_up = self._new_instance_from(instance, next_flow, chained_from=instance.id)
                self.save_instance(follow_up)
                started = follow_up.id
            except DomainError as exc:  # e.g. the follow-up's form needs more: recorded, not lost
                problem = exc.message
            finally:
                _chain_depth.reset(token)
            instance.record_chain(next_flow, started, problem)
            self.save_instance(instance)
