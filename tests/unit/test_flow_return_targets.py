"""Return targets, pure domain: nothing returns into a parallel branch, neither by the node's
return targets nor by returning to the previous node after a join."""
from __future__ import annotations

import pytest

from application.flows.service import compile_condition
from domain.flows.graph import check_graph
from domain.flows.instance import FlowRuntime
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import RuleViolationError
from tests.unit.flow_graphs import NOW, edge, evaluate, graph, instance, node


def _after_a_join(targets):
    return graph([node("start", "start"), node("p", "parallel_split"), node("a", "approval"), node("b", "approval"),
                  node("j", "parallel_join"), node("c", "approval", return_targets=targets), node("end", "end")],
                 [edge("start", "p"), edge("p", "a"), edge("p", "b"), edge("a", "j"), edge("b", "j"), edge("j", "c"),
                  edge("c", "end")])


def resolve(node):
    return ["operator:a"]


def _at_the_node_after_the_join(g):
    """An instance whose parallel branches both approved: its one open task is at c."""
    i = instance()
    i.advance(FlowRuntime(g, resolve, evaluate, NOW))
    for task in [t for t in i.tasks.values() if t["status"] == "open"]:
        i.approve(task["id"], "operator:a", "", FlowRuntime(g, resolve, evaluate, NOW))
    (task,) = [t for t in i.tasks.values() if t["status"] == "open"]
    return i, task


def test_a_return_target_inside_a_parallel_branch_is_refused():
    assert any("return target 'a' must be an approval or the start" in what
               for _, what in check_graph(_after_a_join(["a"]), compile_condition))


def test_a_task_after_a_join_cannot_return_into_a_parallel_branch():
    g = _after_a_join("any_earlier")
    with acting_as(CommandContext("operator:x", "t")):
        i, task = _at_the_node_after_the_join(g)
        with pytest.raises(RuleViolationError, match="may return to: start"):
            i.return_to(task["id"], "operator:a", "a", "", FlowRuntime(g, resolve, evaluate, NOW))


def test_returning_to_the_previous_node_after_a_join_goes_back_to_the_start():
    g = _after_a_join("any_earlier")
    with acting_as(CommandContext("operator:x", "t")):
        i, task = _at_the_node_after_the_join(g)
        i.return_to(task["id"], "operator:a", "previous", "", FlowRuntime(g, resolve, evaluate, NOW))
        assert list(i.tokens.values()) == ["start"] and i.awaiting_resubmit
