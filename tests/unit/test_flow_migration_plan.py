"""The migration planner on its own (pure): given an instance's state and two graphs, the moves
or the reasons (ADR 0012). The engine and the stores are covered by the integration tests."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from application.flows.service import parse_graph
from domain.flows.instance import Task
from domain.flows.migration import apply_migration, migration_target, plan_instance
from domain.shared.errors import InvalidInputError
from interfaces.demo_flows import FEE_RATE_FLOW

V1 = parse_graph(FEE_RATE_FLOW)


def _instance(tokens, tasks=(), status="running", version=1):
    return SimpleNamespace(status=status, definition_version=version, tokens=dict(tokens), pauses={},
                           tasks={t["id"]: t for t in tasks})


def _task(task_id, token, node, mode, **extra):
    return Task(id=task_id, token=token, node=node, mode=mode, candidates=[], **extra)


def _renamed(graph, old, new):
    """The graph with one node id changed everywhere."""
    raw = copy.deepcopy(graph)
    for n in raw["nodes"]:
        n["id"] = new if n["id"] == old else n["id"]
    for e in raw["edges"]:
        e["source"], e["target"] = (new if e["source"] == old else e["source"]), \
            (new if e["target"] == old else e["target"])
    return parse_graph(raw)


def _target(new, mapping=None):
    return migration_target(1, 2, V1, new, mapping or {}, {"empty_assignee": "block"})


IN_BRANCHES = _instance({"t1.1": "ops_review", "t1.2": "clearing_review"},
                        [_task("k1", "t1.1", "ops_review", "any"), _task("k2", "t1.2", "clearing_review", "all")])


def test_a_region_renamed_through_the_mapping_is_the_same_region():
    new = _renamed(FEE_RATE_FLOW, "special_join", "merge")
    plan = plan_instance(IN_BRANCHES, _target(new, {"special_join": "merge"}))
    assert plan.safe and [m["wait"] for m in plan.moves] == ["task_kept", "task_kept"]


def test_a_region_with_a_node_left_unmapped_is_refused_by_name():
    new = _renamed(FEE_RATE_FLOW, "special_join", "merge")
    plan = plan_instance(IN_BRANCHES, _target(new))
    assert not plan.safe and "'special_join' has no counterpart in version 2" in plan.reasons[0]


def test_a_changed_mode_reopens_the_task_and_a_finished_flow_is_refused():
    raw = copy.deepcopy(FEE_RATE_FLOW)
    next(n for n in raw["nodes"] if n["id"] == "clearing_review")["mode"] = "sequential"
    plan = plan_instance(IN_BRANCHES, _target(parse_graph(raw)))
    assert [m["wait"] for m in plan.moves] == ["task_kept", "task_reopened"]
    assert plan_instance(_instance({}, status="completed"), _target(V1)).reasons == ["the flow is completed"]


def test_a_mapping_between_kinds_of_node_is_refused_whole():
    with pytest.raises(InvalidInputError) as refused:
        _target(V1, {"ops_review": "special_join", "ghost": "end"})
    assert [e["path"] for e in refused.value.errors] == ["mapping.ops_review", "mapping.ghost"]


def test_the_migrated_state_follows_the_event_alone():
    state = SimpleNamespace(tokens={"t1": "a"}, tasks={"k1": _task("k1", "t1", "a", "single"),
                                                       "k0": _task("k0", "t0", "gone", "single", status="approved")},
                            delegations={"k1": {}}, arrivals={}, expected={}, visited=["start", "a"],
                            acted={"a": ["x"], "b": ["y"]}, empty_assignee="block", deduplication="none",
                            _seq=3, system_done_at=0, definition_version=1)
    apply_migration(state, to_version=2, renames={"a": "b"}, moves=[
        {"token": "t1", "from": "a", "to": "b", "wait": "task_reopened", "task": "k1"}],
        settings={"empty_assignee": "skip"}, retired_hidden={"gone": ["secret"]})
    assert (state.definition_version, state.tokens, state.visited) == (2, {"t1": "b"}, ["start", "b"])
    assert state.tasks["k1"]["status"] == "cancelled" and state.tasks["k0"]["node"] == "gone"
    assert state.acted == {"b": ["x", "y"]} and state.delegations == {} and state.empty_assignee == "skip"
    assert state.retired_hidden == {"gone": ["secret"]} and state.system_done_at == state._seq == 4
