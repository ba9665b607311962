"""A node's field permissions on real engines: they must name fields of the form, a node without
any lets nothing be edited, hidden sections are never compared with what is sent, and a
resubmission is held to the start node's permissions."""
from __future__ import annotations

import copy

import pytest

from domain.shared.errors import InvalidInputError, PermissionDeniedError
from tests.integration.flow_firm import ADMIN, AUTO, BLOCK, START, TENANT, as_, open_task, publish_flow

# OPS reviews with the basic section hidden, then the initiator approves at a node without field permissions.
HIDDEN_BASIC = {"nodes": [{"id": "start", "type": "start", "name": "s"},
                          {"id": "rev", "type": "approval", "name": "r", "mode": "single",
                           "assignees": [{"kind": "role", "value": "ops"}],
                           "field_permissions": {"basic": "hidden", "commercial": "editable"}},
                          {"id": "last", "type": "approval", "name": "l", "mode": "single",
                           "assignees": [{"kind": "initiator"}]},
                          {"id": "end", "type": "end", "name": "e"}],
                "edges": [{"source": "start", "target": "rev"}, {"source": "rev", "target": "last"},
                          {"source": "last", "target": "end"}]}


def _at_the_hidden_basic_review(flows):
    publish_flow(flows, "hid", HIDDEN_BASIC)
    iid = flows.start_instance(as_("sam"), "hid", "institution", TENANT, title="h").id
    return iid, open_task(flows.instance(iid))


def _returned_to_sales(flows):
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="r")
    for login in ("olga", "olga", "clara"):
        flows.approve(as_(login), started.id, open_task(flows.instance(started.id))["id"], "ok")
    flows.return_to(as_("clara"), started.id, open_task(flows.instance(started.id))["id"], "start", "rate")
    return started.id


def test_resubmission_is_held_to_the_start_nodes_field_permissions(firm):
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


def test_a_wrong_guess_at_a_hidden_section_is_neither_refused_nor_applied(firm):
    container, _ = firm
    flows = container.flows
    iid, task = _at_the_hidden_basic_review(flows)
    wrong = copy.deepcopy(TENANT)
    wrong["commercial"]["term_months"] = 24
    wrong["basic"]["contact_phone"] = "13900000000"  # a wrong guess at a hidden value is not refused...
    flows.edit_at_task(as_("olga"), iid, task["id"], wrong, None)
    data = flows.instance(iid).data
    assert data["basic"] == TENANT["basic"] and data["commercial"]["term_months"] == 24  # ...nor applied


def test_a_node_without_field_permissions_lets_nothing_be_edited(firm):
    container, _ = firm
    flows = container.flows
    iid, task = _at_the_hidden_basic_review(flows)
    flows.approve(as_("olga"), iid, task["id"], "ok")
    last = open_task(flows.instance(iid))
    changed = copy.deepcopy(flows.instance(iid).data)
    changed["commercial"]["term_months"] = 36
    with pytest.raises(PermissionDeniedError):  # no field permissions at the node: nothing is editable
        flows.edit_at_task(as_("sam"), iid, last["id"], changed, None)


def test_field_permissions_must_name_fields_of_the_form(firm):
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
