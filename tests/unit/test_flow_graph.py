"""Flow graphs: publishing checks name every problem; diagrams render."""
from __future__ import annotations

import copy

from application.flows.service import compile_condition, parse_graph
from domain.flows.diagram import to_mermaid
from domain.flows.graph import check_graph
from interfaces.demo_flows import FEE_RATE_FLOW, FLOWS


def problems(raw):
    found = {}
    for where, what in check_graph(parse_graph(raw), compile_condition):
        found[where] = f"{found[where]} | {what}" if where in found else what
    return found


def test_the_demo_flows_pass_every_check():
    for key, _, _, graph in FLOWS:
        assert problems(graph) == {}, key


def test_structural_problems_are_each_named():
    g = copy.deepcopy(FEE_RATE_FLOW)
    g["nodes"].append({"id": "orphan", "type": "approval", "name": "Orphan", "mode": "single",
                       "assignees": [{"kind": "role", "value": "ops"}]})
    g["edges"].append({"source": "orphan", "target": "end"})
    g["edges"][3]["condition"] = "special_rows >"           # rate_check -> default? no: the 4th edge
    g["edges"][2]["condition"] = "special_rows > "
    found = problems(g)
    assert found["nodes.orphan"] == "unreachable from the start node"
    assert any(k.startswith("nodes.rate_check.edges") and "does not compile" in v for k, v in found.items())


def test_dangling_edges_and_missing_start_or_end():
    found = problems({"nodes": [{"id": "a", "type": "approval", "name": "A", "mode": "single",
                                 "assignees": [{"kind": "initiator"}]},
                                {"id": "b", "type": "system", "name": "B", "hook": "notify"}],
                      "edges": [{"source": "a", "target": "ghost"}]})
    assert found["edges[0]"] == "dangling edge: no node 'ghost'"
    assert "exactly one start node" in found["nodes"]


def test_unmatched_split_and_join_is_refused():
    g = copy.deepcopy(FEE_RATE_FLOW)
    g["edges"] = [e for e in g["edges"] if e["source"] != "clearing_review"]
    g["edges"].append({"source": "clearing_review", "target": "counter_writeback"})
    assert "must all meet at one parallel_join" in problems(g)["nodes.special_split"]


def test_gateways_need_exactly_one_default_and_approvals_need_assignees():
    g = copy.deepcopy(FEE_RATE_FLOW)
    for e in g["edges"]:
        e.pop("default", None)
    g["nodes"][1]["assignees"] = []
    found = problems(g)
    assert "exactly one default branch, found 0" in found["nodes.rate_check"]
    assert found["nodes.branch_review"] == "an approval node needs assignees"


def test_an_sla_warning_comes_before_its_deadline():
    g = copy.deepcopy(FEE_RATE_FLOW)
    g["nodes"][1].update(sla_seconds=3600, sla_warning_seconds=3600)
    assert "must be shorter" in problems(g)["nodes.branch_review"]
    g["nodes"][1].update(sla_seconds=None, sla_warning_seconds=600)
    assert "needs sla_seconds" in problems(g)["nodes.branch_review"]
    g["nodes"][1].update(sla_seconds=3600)
    assert "nodes.branch_review" not in problems(g)


def test_mermaid_marks_the_current_node_and_the_path_taken():
    text = to_mermaid(parse_graph(FEE_RATE_FLOW), current={"ops_review"}, visited={"start", "branch_review"})
    assert text.startswith("flowchart TD")
    assert '  n_rate_check -->|"特殊费率 special"| n_special_split' in text
    assert "  class n_branch_review,n_start visited" in text and "  class n_ops_review current" in text


def test_the_start_node_is_called_start():
    g = copy.deepcopy(FEE_RATE_FLOW)
    g["nodes"][0]["id"] = "begin"
    for e in g["edges"]:
        e["source"] = "begin" if e["source"] == "start" else e["source"]
    assert problems(g)["nodes.begin"] == "the start node's id must be 'start'"
