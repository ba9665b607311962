"""Design-time checks of call nodes (父子流程): the called flow exists in the same business line
(when the draft is saved and when it is published), has a published version (at publish), and
calls never lead back to the flow that makes them, following the latest published versions."""
from __future__ import annotations

from typing import Any

from domain.flows.definition import FlowDefinition
from domain.flows.graph import Graph
from domain.shared.errors import NotFoundError


def _called(graph: Graph) -> dict[str, str]:
    """flow key -> the first call node that calls it."""
    called: dict[str, str] = {}
    for n in graph.nodes:
        if n.type == "call" and n.call_flow:
            called.setdefault(n.call_flow, n.id)
    return called


def _target(flows: Any, definition: FlowDefinition, key: str) -> FlowDefinition | None:
    """The called flow, or None when it does not exist or belongs to another business line (the
    same answer: another line's flows are not the designer's to see)."""
    try:
        target: FlowDefinition = flows.current_definition(key)
    except NotFoundError:
        return None
    return target if target.business_line == definition.business_line else None


def call_problems(flows: Any, definition: FlowDefinition, graph: Graph, *, publishing: bool) -> list[tuple[str, str]]:
    """Every problem as (where, what), like check_graph."""
    problems = []
    for key, node in _called(graph).items():
        target = _target(flows, definition, key)
        if key == definition.key:
            problems.append((f"nodes.{node}", f"calls form a loop: {key} -> {key}"))
        elif target is None:
            problems.append((f"nodes.{node}", f"call_flow: flow {key!r} does not exist"))
        elif publishing and not target.versions:
            problems.append((f"nodes.{node}", f"call_flow: flow {key!r} has no published version yet"))
    if publishing and not problems:
        loop = _call_loop(flows, definition, graph)
        if loop:
            problems.append((f"nodes.{_called(graph)[loop[1]]}", "calls form a loop: " + " -> ".join(loop)))
    return problems


def _call_loop(flows: Any, definition: FlowDefinition, graph: Graph) -> list[str] | None:
    """A path of calls from this flow back to itself over the latest published versions, if any."""
    pending = [(key, [definition.key, key]) for key in _called(graph)]
    seen: set[str] = set()
    while pending:
        key, path = pending.pop()
        if key == definition.key:
            return path
        if key in seen:
            continue
        seen.add(key)
        target = _target(flows, definition, key)
        if target is None or not target.versions:
            continue
        called = _called(flows.published_graph(key, target.versions[-1]["number"]))
        pending += [(next_key, [*path, next_key]) for next_key in called]
    return None
