"""The flows context's Application. So far: flow definitions (drafts, checked publishing,
versions, diagrams); instances, tasks and the scheduler come next (see the issue note)."""
from __future__ import annotations

import re
from typing import Any

import cel
from pydantic import ValidationError

from application.flows.call_targets import call_problems
from application.shared.base import CommandResult, LedgerApplication, command
from domain.flows.definition import FlowDefinition
from domain.flows.graph import Graph, check_graph
from domain.shared.errors import InvalidInputError, NotFoundError, RuleViolationError
from domain.shared.ids import natural_id

MACRO = re.compile(r"\.\s*(all|exists_one|exists|map|filter)\s*\(")
MAX_MACRO_NESTING, MAX_MACROS = 2, 8


def _macro_nesting(source: str) -> tuple[int, int]:
    """(deepest nesting of comprehension macros, how many there are): the CEL library has no AST
    API, so parentheses are followed by hand (string literals skipped)."""
    stack: list[bool] = []
    deepest = count = i = 0
    while i < len(source):
        ch = source[i]
        if ch in "'\"":
            end = source.find(ch, i + 1)
            while end > 0 and source[end - 1] == "\\":
                end = source.find(ch, end + 1)
            i = len(source) if end < 0 else end + 1
            continue
        match = MACRO.match(source, i) if ch == "." else None
        if match:
            stack.append(True)
            count += 1
            deepest = max(deepest, sum(stack))
            i = match.end()
            continue
        if ch == "(":
            stack.append(False)
        elif ch == ")" and stack:
            stack.pop()
        i += 1
    return deepest, count


def compile_condition(source: str) -> str | None:
    deepest, count = _macro_nesting(source)
    if deepest > MAX_MACRO_NESTING or count > MAX_MACROS:
        # Nested comprehensions multiply: 4 levels over 60-element lists took seconds of CPU.
        return (f"at most {MAX_MACRO_NESTING} nested and {MAX_MACROS} comprehensions "
                "(all, exists, exists_one, map, filter) per condition")
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

    def __init__(self, store: Any):
        super().__init__(store)
        self._graphs: dict[tuple[str, int], Graph] = {}

    def published_graph(self, key: str, number: int) -> Graph:
        """A published version's parsed graph. Published versions never change, so it is cached
        exactly (instances, diagrams and form edits all read it)."""
        graph = self._graphs.get((key, number))
        if graph is None:
            graph = parse_graph(self.current_definition(key).published_version(number)["graph"])
            self._graphs[(key, number)] = graph
        return graph

    def definition(self, key: str, expected_version: int | None = None) -> FlowDefinition:
        return self.load(natural_id("flow_definition", key), FlowDefinition,
                         expected_version=expected_version, what=f"flow {key!r}")

    def current_definition(self, key: str) -> FlowDefinition:
        """Read-only and shared (see LedgerApplication.read_current): for starts and chaining."""
        return self.read_current(natural_id("flow_definition", key), FlowDefinition, what=f"flow {key!r}")

    def _field_problems(self, definition: FlowDefinition, graph: Graph) -> list[tuple[str, str]]:
        """Field permissions naming no field of the business type's published forms (a typo would
        otherwise silently leave the field read-only). Needs the forms context: see instances.py."""
        return []

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
        self._check_call_targets(definition, parse_graph(graph))
        return self.save_one(definition)

    def _check_call_targets(self, definition: FlowDefinition, graph: Graph) -> None:
        """父子流程: call nodes name existing flows of the same business line (published: at publish)."""
        problems = call_problems(self, definition, graph, publishing=False)
        if problems:
            raise InvalidInputError(f"{len(problems)} problem(s) with the flows this one calls",
                                    [{"path": where, "message": what} for where, what in problems],
                                    code="invalid_flow_graph")

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

    @command
    def publish(self, key: str, expected_version: int | None) -> tuple[CommandResult, int]:
        definition = self.definition(key, expected_version)
        if definition.draft is not None:
            graph = parse_graph(definition.draft)
            problems = check_graph(graph, compile_condition) + self._field_problems(definition, graph) \
                + call_problems(self, definition, graph, publishing=True)
            if problems:
                raise InvalidInputError(f"{len(problems)} problem(s) in the flow; nothing was published",
                                        [{"path": where, "message": what} for where, what in problems],
                                        code="invalid_flow_graph")
        self._check_chain_cycle(definition)
        number = definition.publish()
        return self.save_one(definition), number
