"""What publishing checks of a flow's IF-THEN rules beyond their shape (domain/flows/rules.py
check_rules): the form paths they read and set name fields of the business type's form, a value
a rule sets fits its field, the amount field is a number, and a flow a rule starts exists in the
same business line (and is not the flow itself: it would start itself for ever)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema

from domain.flows.definition import FlowDefinition
from domain.flows.graph import Graph
from domain.flows.rules import Rule, SetFieldAction, StartFlowAction
from domain.forms.paths import schema_has_path
from domain.shared.errors import NotFoundError


def _field_schema(schemas: list[dict[str, Any]], path: str) -> dict[str, Any] | None:
    for schema in schemas:
        node: Any = schema
        for part in path.split("."):
            node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            return node
    return None


def rule_form_problems(graph: Graph, schemas: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Rules against the business type's published form (``schemas``: its forms' JSON schemas)."""
    def exists(path: str) -> bool:
        return any(schema_has_path(s, path) for s in schemas)

    problems: list[tuple[str, str]] = []
    if graph.amount_field:
        field = _field_schema(schemas, graph.amount_field)
        if field is None:
            problems.append(("amount_field", f"the form has no field {graph.amount_field!r}"))
        elif field.get("type") not in ("number", "integer"):
            problems.append(("amount_field", f"{graph.amount_field!r} is not a number field"))
    for rule in graph.rules:
        where = f"rules.{rule.id}"
        problems += [(where, f"fields: the form has no field {path!r}") for path in rule.fields if not exists(path)]
        for i, action in enumerate(rule.actions):
            if not isinstance(action, SetFieldAction):
                continue
            field = _field_schema(schemas, action.field)
            if field is None:
                problems.append((f"{where}.actions[{i}]", f"set_field: the form has no field {action.field!r}"))
                continue
            try:
                error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(field).iter_errors(
                    action.value))
            except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.RefResolutionError):
                error = None  # a field defined by reference: the value is checked when the rule fires
            if error is not None:
                problems.append((f"{where}.actions[{i}]", f"set_field: {action.field}: {error.message}"))
    return problems


def rule_flow_problems(definition: FlowDefinition, graph: Graph,
                       current_definition: Callable[[str], FlowDefinition]) -> list[tuple[str, str]]:
    """start_flow actions name another flow of the same business line with a published version."""
    problems: list[tuple[str, str]] = []
    for rule in graph.rules:
        for i, action in enumerate(rule.actions):
            if not isinstance(action, StartFlowAction):
                continue
            where = f"rules.{rule.id}.actions[{i}]"
            if action.flow == definition.key:
                problems.append((where, "start_flow: a rule cannot start its own flow"))
                continue
            try:
                target = current_definition(action.flow)
            except NotFoundError:
                target = None
            if target is None or target.business_line != definition.business_line:
                # Same answer for another line's flow: it is not the designer's to see.
                problems.append((where, f"start_flow: flow {action.flow!r} does not exist"))
            elif not target.versions:
                problems.append((where, f"start_flow: flow {action.flow!r} has no published version"))
    loop = _start_loop(definition.key, graph, current_definition)
    if loop:
        problems.append(("rules", "start_flow forms a loop: " + " -> ".join(loop)))
    return problems


def _started_by(graph: Graph | dict[str, Any]) -> list[str]:
    rules = graph.rules if isinstance(graph, Graph) else [Rule.model_validate(r) for r in graph.get("rules", [])]
    return [a.flow for r in rules for a in r.actions if isinstance(a, StartFlowAction)]


def _start_loop(key: str, graph: Graph, current_definition: Callable[[str], FlowDefinition]) -> list[str] | None:
    """Follow start_flow over the published versions: a path back to ``key``, if any (each flow
    would start the next for ever, each start a real instance in someone's todo list)."""
    seen: set[str] = set()
    queue = [[key, flow] for flow in _started_by(graph)]
    while queue:
        path = queue.pop()
        if path[-1] == key:
            return path
        if path[-1] in seen:
            continue
        seen.add(path[-1])
        try:
            target = current_definition(path[-1])
        except NotFoundError:
            continue
        if target.versions:
            queue += [[*path, flow] for flow in _started_by(target.versions[-1]["graph"])]
    return None
