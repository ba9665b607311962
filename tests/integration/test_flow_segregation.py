"""Segregation of duties, per-node required fields, clear errors and the returned flow in the
initiator's todo, through the application layer on real engines (issue 12)."""
from __future__ import annotations

import copy

import pytest

from domain.flows.instance.errors import InstanceNotRunningError, SegregationOfDutiesError, TaskNotFoundError
from domain.shared.errors import InvalidInputError, PermissionDeniedError, RuleViolationError
from tests.flows import PLAIN_SIGNING_FLOW as TENANT_SIGNING_FLOW
from tests.integration.flow_firm import ADMIN, START, TENANT, as_, open_task

BLOCK = {"deduplication": "none", "empty_assignee": "block"}


def _publish(flows, key, graph, **settings):
    flows.create_definition(ADMIN, key, key, "tenant_signing", "brokerage", "")
    flows.save_draft(ADMIN, key, graph, {**BLOCK, **settings}, None)
    flows.publish(ADMIN, key, None)


def _signing(**changes):
    """The 004 signing with node settings changed, e.g. ops_review={"independent_of": [...]}."""
    graph = copy.deepcopy(TENANT_SIGNING_FLOW)
    for node in graph["nodes"]:
        node.update(changes.get(node["id"], {}))
    return graph


def _entry_review(role, **review):
    approval = {"type": "approval", "mode": "single", "assignees": [{"kind": "role", "value": role}]}
    return {"nodes": [{"id": "start", "type": "start", "name": "s"},
                      {**approval, "id": "entry", "name": "entry", "field_permissions": {"commercial": "editable"}},
                      {**approval, "id": "review", "name": "review", **review},
                      {"id": "end", "type": "end", "name": "e"}],
            "edges": [{"source": "start", "target": "entry"}, {"source": "entry", "target": "review"},
                      {"source": "review", "target": "end"}]}


def test_a_reviewer_who_entered_the_data_is_left_out_and_cannot_approve(firm):
    container, _ = firm
    flows = container.flows
    _publish(flows, "signing_sod", _signing(ops_review={"independent_of": ["ops_entry"]}))
    iid = flows.start_instance(as_("sam"), "signing_sod", "institution", START, title="sod").id
    entry = open_task(flows.instance(iid))
    flows.edit_at_task(as_("olga"), iid, entry["id"], TENANT, None)
    flows.approve(as_("olga"), iid, entry["id"], "录入完成")
    review = open_task(flows.instance(iid))
    assert review["node"] == "ops_review"
    assert review["candidates"] == ["operator:oscar"] and review["excluded"] == ["operator:olga"]
    with pytest.raises(SegregationOfDutiesError) as refused:
        flows.approve(as_("olga"), iid, review["id"], "my own entry")
    assert refused.value.code == "segregation_of_duties" and isinstance(refused.value, PermissionDeniedError)
    # Nor can the entry's handler come back in through a hand-over or an added signer.
    for hand_over in (flows.transfer, flows.delegate):
        with pytest.raises(SegregationOfDutiesError):
            hand_over(as_("oscar"), iid, review["id"], "operator:olga", "please")
    with pytest.raises(SegregationOfDutiesError):
        flows.add_signer(as_("oscar"), iid, review["id"], "operator:olga", "after", "you too")
    # An administrator's reassignment to the whole role leaves her out as well.
    flows.reassign(as_("ada"), iid, review["id"], [{"kind": "role", "value": "ops"}], "cover")
    assert flows.instance(iid).tasks[review["id"]]["candidates"] == ["operator:oscar"]
    flows.approve(as_("oscar"), iid, review["id"], "复核通过")
    assert open_task(flows.instance(iid))["node"] == "clearing_entry"


def test_independence_holds_per_round_after_a_return(firm):
    container, _ = firm
    flows = container.flows
    _publish(flows, "signing_rounds", _signing(ops_review={"independent_of": ["ops_entry"]}))
    iid = flows.start_instance(as_("sam"), "signing_rounds", "institution", START, title="rounds").id
    flows.approve(as_("olga"), iid, open_task(flows.instance(iid))["id"], "round 1")
    review = open_task(flows.instance(iid))
    flows.return_to(as_("oscar"), iid, review["id"], "ops_entry", "redo")
    flows.approve(as_("oscar"), iid, open_task(flows.instance(iid))["id"], "round 2")
    assert open_task(flows.instance(iid))["candidates"] == ["operator:olga"]  # oscar entered this round


def test_deduplication_never_auto_approves_an_independent_node(firm):
    container, _ = firm
    flows = container.flows
    _publish(flows, "dedup_sod", _entry_review("ops", independent_of=["initiator"]),
             deduplication="approve_consecutive")
    iid = flows.start_instance(as_("sam"), "dedup_sod", "institution", TENANT, title="d").id
    flows.approve(as_("olga"), iid, open_task(flows.instance(iid))["id"], "entered")
    review = open_task(flows.instance(iid))  # olga approved just before and is a candidate: still open
    assert review["node"] == "review" and review["status"] == "open" and review["approvals"] == []


@pytest.mark.parametrize("rule", ["block", "skip", "to_admin"])
def test_when_nobody_independent_remains_the_empty_assignee_rule_applies(firm, rule):
    container, _ = firm
    flows = container.flows  # fiona is the only finance operator
    _publish(flows, "alone", _entry_review("finance", independent_of=["entry"]), empty_assignee=rule)
    iid = flows.start_instance(as_("sam"), "alone", "institution", TENANT, title="a").id
    entry = open_task(flows.instance(iid))
    if rule == "block":
        with pytest.raises(RuleViolationError, match="no assignee independent of entry"):
            flows.approve(as_("fiona"), iid, entry["id"], "entered")
        return
    flows.approve(as_("fiona"), iid, entry["id"], "entered")
    inst = flows.instance(iid)
    if rule == "skip":
        assert inst.status == "completed" and "review" in inst.visited
    else:
        assert open_task(inst)["candidates"] == ["operator:ada"]


def test_a_node_with_required_fields_refuses_approval_without_them(firm):
    container, _ = firm
    flows = container.flows
    _publish(flows, "signing_req", _signing(ops_entry={"required_fields": ["basic", "basic.contact_email"]}))
    iid = flows.start_instance(as_("sam"), "signing_req", "institution", START, title="req").id
    task = open_task(flows.instance(iid))
    with pytest.raises(InvalidInputError) as refused:
        flows.approve(as_("olga"), iid, task["id"], "nothing entered")
    assert refused.value.code == "required_fields_missing"
    assert [e["path"] for e in refused.value.errors] == ["basic", "basic.contact_email"]
    flows.edit_at_task(as_("olga"), iid, task["id"], TENANT, None)
    with pytest.raises(InvalidInputError) as refused:
        flows.approve(as_("olga"), iid, task["id"], "no e-mail yet")
    assert [e["path"] for e in refused.value.errors] == ["basic.contact_email"]
    data = copy.deepcopy(TENANT)
    data["basic"]["contact_email"] = "wang@example.com"
    flows.edit_at_task(as_("olga"), iid, task["id"], data, None)
    flows.approve(as_("olga"), iid, task["id"], "ok")
    assert open_task(flows.instance(iid))["node"] == "ops_review"


def test_the_start_does_not_demand_sections_a_later_node_owns_and_refuses_read_only_ones(firm):
    container, _ = firm
    flows = container.flows
    iid = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="only mine").id
    assert "basic" not in flows.instance(iid).data
    sneaky = {**START, "rates": {"fee_items": [{"id": "r1", "product": "VCC", "item": "返点", "percent": 90}]}}
    with pytest.raises(PermissionDeniedError) as refused:
        flows.start_instance(as_("sam"), "tenant_signing", "institution", sneaky, title="rebate")
    assert refused.value.field == "rates"
    with pytest.raises(InvalidInputError) as missing:  # its own section is still required
        flows.start_instance(as_("sam"), "tenant_signing", "institution", {}, title="empty")
    assert [e["path"] for e in missing.value.errors] == ["commercial"]


def test_an_integer_is_a_number_where_the_form_says_number(firm):
    container, _ = firm
    data = {"customer": {"fund_account": "88001234"}, "exchange": "SHFE", "effective_date": "2026-12-01",
            "rates": [{"id": "r1", "product": "cu", "rate": 2}]}
    iid = container.flows.start_instance(as_("sam"), "fee_rate_change", "individual", data, title="费率").id
    row = container.flows.instance(iid).data["rates"][0]
    assert row["rate"] == 2.0 and row["multiple_of_exchange"] == 4.0


def test_unknown_tasks_are_not_found_and_finished_flows_are_not_running(firm):
    container, _ = firm
    flows = container.flows
    iid = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="e").id
    with pytest.raises(TaskNotFoundError) as unknown:
        flows.approve(as_("olga"), iid, "k999", "?")
    assert unknown.value.code == "task_not_found"
    task = open_task(flows.instance(iid))
    flows.withdraw(as_("sam"), iid, "客户改期")
    with pytest.raises(InstanceNotRunningError) as finished:
        flows.terminate(as_("ada"), iid, "again")
    assert finished.value.code == "instance_not_running"
    with pytest.raises(InstanceNotRunningError):
        flows.approve(as_("olga"), iid, task["id"], "too late")


def test_a_flow_returned_to_its_initiator_is_their_task_until_they_resubmit(firm):
    container, _ = firm
    flows = container.flows
    iid = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="back").id
    flows.return_to(as_("olga"), iid, open_task(flows.instance(iid))["id"], "previous", "请补充")
    inst = flows.instance(iid)
    waiting = open_task(inst)
    assert (waiting["node"], waiting["mode"], inst.current_handlers(waiting)) == ("start", "resubmit",
                                                                                  ["operator:sam"])
    with pytest.raises(RuleViolationError, match="resubmit"):
        flows.approve(as_("sam"), iid, waiting["id"], "approve my own?")
    flows.resubmit(as_("sam"), iid)
    inst = flows.instance(iid)
    assert inst.tasks[waiting["id"]]["status"] == "resubmitted" and open_task(inst)["node"] == "ops_entry"
