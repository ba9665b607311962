"""Publish-time checks of segregation of duties and required fields; the review warning."""
from __future__ import annotations

import copy

from application.flows.service import compile_condition, parse_graph
from domain.flows.form_data import deferred_sections, missing_required, numbers_as_declared
from domain.flows.graph import check_graph, segregation_warnings
from interfaces.demo_forms import FEE_RATE, TENANT_SIGNING
from tests.flows import PLAIN_SIGNING_FLOW as TENANT_SIGNING_FLOW


def _with(**changes):
    graph = copy.deepcopy(TENANT_SIGNING_FLOW)
    for node in graph["nodes"]:
        node.update(changes.get(node["id"], {}))
    return parse_graph(graph)


def test_independent_of_names_the_initiator_or_an_earlier_approval_node():
    graph = _with(ops_review={"independent_of": ["initiator", "ops_entry"]},
                  clearing_entry={"independent_of": ["finance_review", "ghost", "clearing_entry"]},
                  generate_contract={"independent_of": ["initiator"]})
    found = [what for where, what in check_graph(graph, compile_condition)]
    assert "independent_of: 'finance_review' does not come before this node" in found
    assert "independent_of: 'ghost' is neither 'initiator' nor an approval node" in found
    assert "independent_of cannot name the node itself" in found
    assert "only approval nodes take independent_of" in found
    assert not [w for w in found if "ops_review" in w]


def test_publishing_warns_about_a_review_not_independent_of_its_entry():
    warned = dict(segregation_warnings(parse_graph(TENANT_SIGNING_FLOW)))
    assert set(warned) == {"nodes.ops_review", "nodes.clearing_review", "nodes.finance_review"}
    acknowledged = _with(ops_review={"independent_of": ["ops_entry"]}, clearing_review={"independent_of": []})
    assert set(dict(segregation_warnings(acknowledged))) == {"nodes.clearing_review", "nodes.finance_review"}


def test_sections_a_later_node_owns_are_deferred_at_the_start():
    assert deferred_sections(parse_graph(TENANT_SIGNING_FLOW), TENANT_SIGNING) == {"basic"}


def test_required_fields_name_absent_empty_and_invalid_paths():
    data = {"settlement": {"bank_name": ""}, "basic": {"uscc": "1"}}
    errors = [{"path": "basic.uscc", "message": "bad"}, {"path": "commercial", "message": "x"}]
    found = missing_required(data, ["settlement.bank_name", "rates", "basic"], errors)
    assert [f["path"] for f in found] == ["settlement.bank_name", "rates", "basic.uscc"]


def test_integers_become_numbers_only_where_the_schema_says_number():
    data = {"rates": [{"id": "r1", "rate": 2, "product": "cu"}], "special_rows": 1, "exchange": "SHFE"}
    coerced = numbers_as_declared(FEE_RATE, data)
    assert coerced["rates"][0]["rate"] == 2.0 and isinstance(coerced["rates"][0]["rate"], float)
    assert isinstance(coerced["special_rows"], int)
