"""The flows context's Application. So far: flow definitions (drafts, checked publishing,
versions, diagrams); instances, tasks and the scheduler come next (see the issue note)."""
from __future__ import annotations

from typing import Any

import cel
from pydantic import ValidationError

from application.shared.base import CommandResult, LedgerApplication, command
from domain.flows.definition import FlowDefinition
from domain.flows.graph import Graph, check_graph
from domain.shared.errors import InvalidInputError, NotFoundError
from domain.shared.ids import natural_id


def compile_condition(source: str) -> str | None:
    try:
        cel.compile(source)
        return None
    except (ValueError, RuntimeError) as exc:
        return str(exc).splitlines()[0]


def parse_graph(raw: Any) -> Graph:
    try:
        return Graph.model_validate(raw)
    except ValidationError as exc:
        errors = [{"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise InvalidInputError(f"the graph is malformed ({len(errors)} problem(s))", errors,
                                code="invalid_flow_graph") from None


class FlowsApplication(LedgerApplication):
    name = "flows"

    def definition(self, key: str, expected_version: int | None = None) -> FlowDefinition:
        try:
            return self.load(natural_id("flow_definition", key), FlowDefinition, expected_version=expected_version)
        except NotFoundError:
            raise NotFoundError(f"flow {key!r} does not exist") from None

    def current_definition(self, key: str) -> FlowDefinition:
        """Read-only and shared (see LedgerApplication.read_current): for starts and chaining."""
        try:
            return self.read_current(natural_id("flow_definition", key), FlowDefinition)
        except NotFoundError:
            raise NotFoundError(f"flow {key!r} does not exist") from None

    @command
    def create_definition(self, key: str, name: str, business_type: str, business_line: str,
                          description: str) -> CommandResult:
        if not self.exists(natural_id("business_type", business_type)):
            raise NotFoundError(f"business type {business_type!r} does not exist", field="business_type")
        return self.create_unique(FlowDefinition.create(key, name, business_type, business_line, description),
                                  f"flow {key!r}")

    @command
    def save_draft(self, key: str, graph: dict[str, Any], settings: dict[str, str],
                   expected_version: int | None) -> CommandResult:
        parse_graph(graph)  # shape errors now; structure is checked at publish
        definition = self.definition(key, expected_version)
        definition.save_draft(graph, settings)
        return self.save_one(definition)

    @command
    def publish(self, key: str, expected_version: int | None) -> tuple[CommandResult, int]:
        definition = self.definition(key, expected_version)
        if definition.draft is not None:
            problems = check_graph(parse_graph(definition.draft), compile_condition)
            if problems:
                raise InvalidInputError(f"{len(problems)} problem(s) in the flow; nothing was published",
                                        [{"path": where, "message": what} for where, what in problems],
                                        code="invalid_flow_graph")
        number = definition.publish()
        return self.save_one(definition), number
