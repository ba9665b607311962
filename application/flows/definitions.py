"""Flow definitions: drafts, checked publishing, versions. Published graphs and settings never
change, so they are cached exactly (instances, diagrams and form edits all read them)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from uuid import UUID

from pydantic import ValidationError

from application.flows.call_targets import call_problems
from application.flows.conditions import compile_condition
from application.flows.forms_port import Forms
from application.flows.rule_checks import rule_flow_problems, rule_form_problems
from application.shared.base import CommandResult, Loader, command
from domain.flows.definition import FlowDefinition
from domain.flows.graph import Graph, check_graph
from domain.forms.paths import schema_has_path
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import InvalidInputError, NotFoundError, RuleViolationError
from domain.shared.ids import natural_id

A = TypeVar("A", bound=LedgerAggregate)


def parse_graph(raw: Any) -> Graph:
    try:
        return Graph.model_validate(raw)
    except ValidationError as exc:
        errors = [{"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise InvalidInputError(f"the graph is malformed ({len(errors)} problem(s))", errors,
                                code="invalid_flow_graph") from None


class CurrentReader(Protocol):
    """``LedgerApplication.read_current`` as the mixin sees it on its host."""

    def __call__(self, aggregate_id: UUID, kind: type[A], what: str | None = None) -> A: ...


class Definitions:
    forms: Forms
    _graphs: dict[tuple[str, int], Graph]
    _settings: dict[tuple[str, int], dict[str, Any]]
    # from the host (LedgerApplication)
    load: Loader
    read_current: CurrentReader
    exists: Callable[..., bool]
    create_unique: Callable[..., CommandResult]
    save_one: Callable[..., CommandResult]
    hook_problems: Callable[[Graph], list[tuple[str, str]]]

    def published_graph(self, key: str, number: int) -> Graph:
        """A published version's parsed graph."""
        graph = self._graphs.get((key, number))
        if graph is None:
            graph = parse_graph(self.current_definition(key).published_version(number)["graph"])
            self._graphs[(key, number)] = graph
        return graph

    def published_settings(self, key: str, number: int) -> dict[str, Any]:
        settings = self._settings.get((key, number))
        if settings is None:
            settings = self.current_definition(key).published_version(number)["settings"]
            self._settings[(key, number)] = settings
        return settings

    def definition(self, key: str, expected_version: int | None = None) -> FlowDefinition:
        return self.load(natural_id("flow_definition", key), FlowDefinition, expected_version=expected_version,
                         what=f"flow {key!r}")

    def current_definition(self, key: str) -> FlowDefinition:
        """Read-only and shared (see LedgerApplication.read_current): for starts and chaining."""
        return self.read_current(natural_id("flow_definition", key), FlowDefinition, what=f"flow {key!r}")

    @command
    def create_definition(self, key: str, name: str, business_type: str, business_line: str,
                          description: str) -> CommandResult:
        if not self.exists(natural_id("business_type", business_type)):
            raise NotFoundError(f"business type {business_type!r} does not exist", field="business_type")
        return self.create_unique(FlowDefinition.create(key, name, business_type, business_line, description),
                                  f"flow {key!r}")

    @command
    def save_draft(self, key: str, graph: dict[str, Any], settings: dict[str, Any],
                   expected_version: int | None) -> CommandResult:
        parse_graph(graph)  # shape errors now; structure is checked at publish
        definition = self.definition(key, expected_version)
        definition.save_draft(graph, settings)
        if settings.get("chain_to"):
            self._check_chain_target(definition, settings["chain_to"])
        problems = call_problems(self, definition, parse_graph(graph), publishing=False)
        if problems:  # 父子流程: call nodes name existing flows of the same business line
            raise InvalidInputError(f"{len(problems)} problem(s) with the flows this one calls",
                                    [{"path": where, "message": what} for where, what in problems],
                                    code="invalid_flow_graph")
        return self.save_one(definition)

    @command
    def publish(self, key: str, expected_version: int | None) -> tuple[CommandResult, int]:
        definition = self.definition(key, expected_version)
        if definition.draft is not None:
            graph = parse_graph(definition.draft)
            problems = check_graph(graph, compile_condition) + self._field_problems(definition, graph) \
                + call_problems(self, definition, graph, publishing=True) \
                + rule_flow_problems(definition, graph, self.current_definition) + self.hook_problems(graph)
            if problems:
                raise InvalidInputError(f"{len(problems)} problem(s) in the flow; nothing was published",
                                        [{"path": where, "message": what} for where, what in problems],
                                        code="invalid_flow_graph")
        self._check_chain_cycle(definition)
        number = definition.publish()
        return self.save_one(definition), number

    def _check_chain_target(self, definition: FlowDefinition, target: str) -> FlowDefinition:
        """流程接龙 stays within the business line, and names a flow that exists."""
        try:
            follow_up = self.current_definition(target)
        except NotFoundError:
            raise RuleViolationError(f"chain_to: flow {target!r} does not exist", field="settings.chain_to") from None
        if follow_up.business_line != definition.business_line:
            # Same answer as a missing flow: another line's flows are not the designer's to see.
            raise RuleViolationError(f"chain_to: flow {target!r} does not exist", field="settings.chain_to")
        return follow_up

    def _check_chain_cycle(self, definition: FlowDefinition) -> None:
        """Follow chain_to over the published definitions: the chain must not come back here."""
        seen, target = [definition.key], definition.settings.get("chain_to")
        while target:
            follow_up = self._check_chain_target(definition, target)
            if target in seen:
                raise RuleViolationError("chain_to forms a loop: " + " -> ".join([*seen, target]),
                                         field="settings.chain_to")
            seen.append(target)
            target = follow_up.versions[-1]["settings"].get("chain_to") if follow_up.versions else None

    def _field_problems(self, definition: FlowDefinition, graph: Graph) -> list[tuple[str, str]]:
        """Field permissions, required fields and summary fields naming no field of the business
        type's published form (a typo would otherwise silently leave the field read-only)."""
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
                for path in summary if not any(schema_has_path(s, path) for s in schemas)] + \
            rule_form_problems(graph, schemas)
