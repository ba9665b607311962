"""Regression tests for the flow-engine review (issue 5) on real engines."""
from __future__ import annotations

import copy

import pytest

from domain.shared.errors import RuleViolationError
from tests.integration.test_flow_instances import ADMIN, START, TENANT, as_, firm, open_task  # noqa: F401, F811

AUTO = {"nodes": [{"id": "start", "type": "start", "name": "s"},
                  {"id": "note", "type": "system", "name": "n", "hook": "notify"},
                  {"id": "end", "type": "end", "name": "e"}],
        "edges": [{"source": "start", "target": "note"}, {"source": "note", "target": "end"}]}
BLOCK = {"deduplication": "none", "empty_assignee": "block"}


def _flow(flows, key, graph, line="brokerage", business_type="tenant_signing", **settings):
    flows.create_definition(ADMIN, key, key, business_type, line, "")
    flows.save_draft(ADMIN, key, graph, {**BLOCK, **settings}, None)
    flows.publish(ADMIN, key, None)


def test_c2_h8_chains_must_not_loop_or_leave_the_business_line(firm):  # noqa: F811
    container, _ = firm
    flows = container.flows
    _flow(flows, "loop_a", AUTO)
    _flow(flows, "loop_b", AUTO, chain_to="loop_a")
    flows.save_draft(ADMIN, "loop_a", AUTO, {**BLOCK, "chain_to": "loop_b"}, None)
    with pytest.raises(RuleViolationError, match="loop_a -> loop_b -> loop_a"):
        flows.publish(ADMIN, "loop_a", None)
    with pytest.raises(RuleViolationError, match="does not exist"):
        flows.save_draft(ADMIN, "loop_a", AUTO, {**BLOCK, "chain_to": "ghost_flow"}, None)
    container.access.create_business_line(ADMIN, "futures", "Futures")
    container.forms.create_business_type(ADMIN, "fx_signing", "fx", "futures", "", ["institution"])
    flows.create_definition(ADMIN, "fx_flow", "fx", "fx_signing", "futures", "")
    with pytest.raises(RuleViolationError, match="does not exist"):
        flows.save_draft(ADMIN, "loop_a", AUTO, {**BLOCK, "chain_to": "fx_flow"}, None)


def test_c2_flows_that_complete_at_once_chain_at_most_five_deep_in_one_step(firm):  # noqa: F811
    container, _ = firm
    flows = container.flows
    for i in range(7, 0, -1):
        _flow(flows, f"hop{i}", AUTO, **({"chain_to": f"hop{i + 1}"} if i < 7 else {}))
    first = flows.instance(flows.start_instance(as_("sam"), "hop1", "institution", TENANT, title="hop").id)
    assert flows.hot._items[first.id].chain is not None  # M8: cached only once chaining is saved
    problems, current = [], first
    while current.chain:
        problems.append(current.chain["problem"])
        if not current.chain["next_instance"]:
            break
        current = flows.instance(current.chain["next_instance"])
    assert problems[:5] == [None] * 5 and "more than 5 flows chained" in problems[5]


def test_h7_a_condition_that_divides_by_zero_does_not_hold_and_is_recorded(firm):  # noqa: F811
    container, _ = firm
    flows = container.flows
    g = {"nodes": [{"id": "start", "type": "start", "name": "s"}, {"id": "gw", "type": "exclusive", "name": "g"},
                   {"id": "rev", "type": "approval", "name": "r", "mode": "single",
                    "assignees": [{"kind": "role", "value": "ops"}]},
                   {"id": "end", "type": "end", "name": "e"}],
         "edges": [{"source": "start", "target": "gw"},
                   {"source": "gw", "target": "end", "condition": "1 / (commercial.term_months - 12) > 0"},
                   {"source": "gw", "target": "rev", "default": True}, {"source": "rev", "target": "end"}]}
    _flow(flows, "zdiv", g)
    started = flows.start_instance(as_("sam"), "zdiv", "institution", TENANT, title="z")  # term_months == 12
    assert open_task(flows.instance(started.id))["node"] == "rev"
    branch = next(e for e in container.audit.trail(started.id) if e.event_type.endswith("BranchTaken"))
    assert "ZeroDivisionError" in str(branch.data)


def _returned_to_sales(flows):
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="r")
    for login in ("olga", "olga", "clara"):
        flows.approve(as_(login), started.id, open_task(flows.instance(started.id))["id"], "ok")
    flows.return_to(as_("clara"), started.id, open_task(flows.instance(started.id))["id"], "start", "rate")
    return started.id


def test_h3_resubmission_is_held_to_the_start_nodes_field_permissions(firm):  # noqa: F811
    from domain.shared.errors import PermissionDeniedError
    container, _ = firm
    flows = container.flows
    iid = _returned_to_sales(flows)
    mine = copy.deepcopy(flows.instance(iid).data)
    mine["basic"] = {**TENANT["basic"], "tenant_name_cn": "乙公司"}  # read-only for SALES at the start (004 §7.3)
    with pytest.raises(PermissionDeniedError) as refused:
        flows.resubmit(as_("sam"), iid, mine)
    assert refused.value.field == "basic"
    mine = copy.deepcopy(flows.instance(iid).data)
    mine["commercial"]["term_months"] = 24  # SALES owns the commercial section
    flows.resubmit(as_("sam"), iid, mine)
    assert flows.instance(iid).data["commercial"]["term_months"] == 24


def test_h4_h5_no_permissions_means_read_only_and_hidden_sections_are_never_compared(firm):  # noqa: F811
    from domain.shared.errors import PermissionDeniedError
    container, _ = firm
    flows = container.flows
    g = {"nodes": [{"id": "start", "type": "start", "name": "s"},
                   {"id": "rev", "type": "approval", "name": "r", "mode": "single",
                    "assignees": [{"kind": "role", "value": "ops"}],
                    "field_permissions": {"basic": "hidden", "commercial": "editable"}},
                   {"id": "last", "type": "approval", "name": "l", "mode": "single",
                    "assignees": [{"kind": "initiator"}]},
                   {"id": "end", "type": "end", "name": "e"}],
         "edges": [{"source": "start", "target": "rev"}, {"source": "rev", "target": "last"},
                   {"source": "last", "target": "end"}]}
    _flow(flows, "hid", g)
    iid = flows.start_instance(as_("sam"), "hid", "institution", TENANT, title="h").id
    task = open_task(flows.instance(iid))
    wrong = copy.deepcopy(TENANT)
    wrong["commercial"]["term_months"] = 24
    wrong["basic"]["contact_phone"] = "13900000000"  # a wrong guess at a hidden value is not refused...
    flows.edit_at_task(as_("olga"), iid, task["id"], wrong, None)
    data = flows.instance(iid).data
    assert data["basic"] == TENANT["basic"] and data["commercial"]["term_months"] == 24  # ...nor applied
    flows.approve(as_("olga"), iid, task["id"], "ok")
    last = open_task(flows.instance(iid))
    changed = copy.deepcopy(data)
    changed["commercial"]["term_months"] = 36
    with pytest.raises(PermissionDeniedError):  # no field permissions at the node: nothing is editable
        flows.edit_at_task(as_("sam"), iid, last["id"], changed, None)


def test_h6_tasks_and_copies_go_only_to_active_operators_of_the_line_and_never_to_the_initiator(firm):  # noqa: F811
    container, _ = firm
    flows = container.flows
    iid = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="h6").id
    task = open_task(flows.instance(iid))["id"]
    container.access.create_business_line(ADMIN, "futures", "Futures")
    hq = container.access.create_department(ADMIN, "FX", "FX", "head_office", None).id
    other = container.access.create_operator(ADMIN, "felix", "felix", hq, None, None, None).id
    container.access.set_business_lines(ADMIN, other, ["futures"])
    container.runners["access.principals"].catch_up()
    for who in ("operator:ghost", "operator:felix", "operator:sam"):
        for act, extra in ((flows.transfer, ("",)), (flows.delegate, ("",)), (flows.add_signer, ("before", ""))):
            with pytest.raises(RuleViolationError):
                act(as_("olga"), iid, task, who, *extra)
    with pytest.raises(RuleViolationError, match="not an active operator"):
        flows.cc(as_("olga"), iid, ["operator:ghost"], "")
    flows.cc(as_("olga"), iid, ["operator:sam", "operator:fiona"], "fyi")
    flows.transfer(as_("olga"), iid, task, "operator:fiona", "")
    assert "operator:fiona" in open_task(flows.instance(iid))["candidates"]


def test_h5_field_permissions_must_name_fields_of_the_form(firm):  # noqa: F811
    from domain.shared.errors import InvalidInputError
    container, _ = firm
    flows = container.flows
    g = copy.deepcopy(AUTO)
    g["nodes"][1] = {"id": "note", "type": "approval", "name": "r", "mode": "single",
                     "assignees": [{"kind": "role", "value": "ops"}],
                     "field_permissions": {"settlement.bank_account": "hidden", "settlement.bank_acount": "hidden"}}
    flows.create_definition(ADMIN, "typo", "typo", "tenant_signing", "brokerage", "")
    flows.save_draft(ADMIN, "typo", g, BLOCK, None)
    with pytest.raises(InvalidInputError) as refused:
        flows.publish(ADMIN, "typo", None)
    assert [e["message"] for e in refused.value.errors] == [
        "field_permissions: the form has no field 'settlement.bank_acount'"]
