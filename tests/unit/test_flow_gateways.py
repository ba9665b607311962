"""Inclusive and parallel gateways, pure domain: an inclusive gateway needs a default branch and
its join waits only for the branches taken; a parallel join waits for every branch."""
from __future__ import annotations

import pytest

from application.flows.service import compile_condition
from domain.flows.graph import check_graph
from domain.flows.instance import FlowRuntime
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import RuleViolationError
from tests.unit.flow_graphs import NOW, edge, evaluate, graph, instance, node


def _inclusive(default: bool):
    edges = [edge("start", "inc"), edge("inc", "legal", condition="amount > 100"),
             edge("inc", "fin", condition="amount > 1000"), edge("legal", "j"), edge("fin", "j"), edge("j", "end")]
    if default:
        edges.append(edge("inc", "fin", default=True))
        edges[2] = edge("inc", "fin", condition="amount > 1000")
    return graph([node("start", "start"), node("inc", "inclusive"), node("legal", "approval"),
                  node("fin", "approval"), node("j", "inclusive_join"), node("end", "end")], edges)


def test_an_inclusive_gateway_without_a_default_branch_is_refused():
    no_default = _inclusive(default=False)
    assert ("nodes.inc", "an inclusive gateway needs exactly one default branch, found 0") in check_graph(
        no_default, compile_condition)


def test_an_inclusive_gateway_published_before_the_check_refuses_when_no_branch_holds():
    no_default = _inclusive(default=False)
    with acting_as(CommandContext("operator:x", "t")):
        with pytest.raises(RuleViolationError, match="no branch"):
            instance().advance(FlowRuntime(no_default, lambda node: ["operator:a"], evaluate, NOW))


def test_an_inclusive_join_waits_only_for_the_branches_taken():
    no_default = _inclusive(default=False)
    with acting_as(CommandContext("operator:x", "t")):
        i = instance()
        i.data = {"amount": 500}  # only the legal branch holds
        i.advance(FlowRuntime(no_default, lambda node: ["operator:a"], evaluate, NOW))
        (task,) = [t for t in i.tasks.values() if t["status"] == "open"]
        assert task["node"] == "legal" and i.expected == {"j": 1}
        i.approve(task["id"], "operator:a", "", FlowRuntime(no_default, lambda node: ["operator:a"], evaluate, NOW))
        assert i.status == "completed"


def test_a_parallel_join_moves_on_once_every_branch_arrived():
    g = graph([node("start", "start"), node("p", "parallel_split"), node("a", "approval"), node("b", "approval"),
               node("j", "parallel_join"), node("end", "end")],
              [edge("start", "p"), edge("p", "a"), edge("p", "b"), edge("a", "j"), edge("b", "j"), edge("j", "end")])
    with acting_as(CommandContext("operator:x", "t")):
        i = instance()
        i.advance(FlowRuntime(g, lambda node: ["operator:a"], evaluate, NOW))
        for task in [t for t in i.tasks.values() if t["status"] == "open"]:
            i.approve(task["id"], "operator:a", "", FlowRuntime(g, lambda node: ["operator:a"], evaluate, NOW))
        assert i.status == "completed"
