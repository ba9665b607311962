"""Loops in a flow graph, pure domain: a loop must wait somewhere (an approval or a pause), or
publishing refuses it and an instance never spins on it."""
from __future__ import annotations

import pytest

from application.flows.service import compile_condition
from domain.flows.graph import check_graph
from domain.flows.instance import FlowRuntime
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import RuleViolationError
from tests.unit.flow_graphs import NOW, edge, evaluate, graph, instance, node


def _spin():
    """start -> g -> s1 (a system step) -> g: nothing on the loop waits."""
    return graph([node("start", "start"), node("g", "exclusive"), node("s1", "system", hook="notify"),
                  node("end", "end")],
                 [edge("start", "g"), edge("g", "end", condition="false"), edge("g", "s1", default=True),
                  edge("s1", "g")])


def test_a_loop_without_an_approval_or_pause_is_refused():
    spin = _spin()
    assert any("has no approval or pause node" in what for _, what in check_graph(spin, compile_condition))


def test_a_loop_through_an_approval_is_allowed():
    waits = graph([node("start", "start"), node("g", "exclusive"), node("a", "approval"), node("end", "end")],
                  [edge("start", "g"), edge("g", "end", condition="false"), edge("g", "a", default=True),
                   edge("a", "g")])
    assert check_graph(waits, compile_condition) == []


def test_an_instance_on_a_loop_without_an_approval_stops_instead_of_spinning():
    spin = _spin()
    with acting_as(CommandContext("operator:x", "t")), pytest.raises(RuleViolationError, match="come to rest"):
        instance().advance(FlowRuntime(spin, lambda node: ["operator:a"], evaluate, NOW))
