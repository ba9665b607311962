"""Flows producing the business's outputs through their system hooks as the service wires them
(interfaces/bootstrap.py register_hooks, ADR 0024): an approved fee-rate change drops exactly one
import file for the counter and a failed import reopens a task for CLEARING; a screening hit stops
an account opening at compliance's review — cleared, it goes on; confirmed, it ends."""
from __future__ import annotations

from uuid import UUID

import pytest

from domain.shared.context import CommandContext
from interfaces.demo_compliance import load_demo_screening_list
from interfaces.demo_flows import FEE_RATE_WITH_WRITEBACK, OPENING_WITH_SCREENING
from tests.integration.flow_firm import as_, open_task, publish_flow
from tests.unit.test_feerates import FORM

OPENING = {"name": "王建國", "id_number": "11010519491231002X", "phone": "13812345678",
           "bank_card": "6222021234567890128", "risk_level": "C3"}
COMPLIANCE = CommandContext("operator:qian", "review")


def writeback_graph():
    """The demo's fee-rate write-back without the branch and special-rate reviews before it."""
    keep = {"start", "counter_writeback", "imported", "writeback_repair", "end"}
    edges = [e for e in FEE_RATE_WITH_WRITEBACK["edges"] if e["source"] in keep and e["target"] in keep]
    return {"nodes": [n for n in FEE_RATE_WITH_WRITEBACK["nodes"] if n["id"] in keep],
            "edges": [{"source": "start", "target": "counter_writeback"}, *edges]}


def outbox(container):
    return sorted(p.name for p in (container.settings.data_dir / "counter" / "outbox" / "ctp2").iterdir())


def waiting_result(instance, hook):
    (request,) = [r for r in instance.system_requests.values() if r["hook"] == hook and r["status"] == "waiting"]
    return request["result"]


@pytest.fixture
def counter(firm):
    container, _ = firm
    publish_flow(container.flows, "fee_writeback", writeback_graph(), business_type="fee_rate_change")
    return container


def test_an_approved_fee_rate_change_drops_one_file_and_a_failed_import_reopens_a_task(counter):
    container = counter
    flows = container.flows
    iid = flows.start_instance(as_("sam"), "fee_writeback", "individual", {**FORM, "special_reason": "大客户"},
                               title="张三费率", fund_account="88001234").id
    assert container.scheduler.tick() == 1 and container.scheduler.tick() == 0
    first = waiting_result(flows.instance(iid), "ctp_writeback")
    assert outbox(container) == [first["file"]] and first["records"] == 3

    container.feerates.report_result(CommandContext.system("counter", "r1"), first["file"], "failed",
                                     "投资者不存在 investor unknown", "file")
    instance = flows.instance(iid)
    repair = open_task(instance)
    assert repair["node"] == "writeback_repair" and sorted(repair["candidates"]) == ["operator:carl",
                                                                                      "operator:clara"]
    failed = instance.outputs["counter_writeback"]
    assert (failed["status"], failed["problem"], failed["message"], failed["file"]) == (
        "failed", "counter_failed", "投资者不存在 investor unknown", first["file"])

    flows.approve(as_("clara"), iid, repair["id"], "已在柜台开户 opened at the counter")
    container.scheduler.tick()  # the write-back again: a new visit, a new file
    second = waiting_result(flows.instance(iid), "ctp_writeback")
    assert outbox(container) == sorted([first["file"], second["file"]])
    container.feerates.report_result(CommandContext.system("counter", "r2"), second["file"], "imported", "", "file")
    assert flows.instance(iid).status == "completed"


def test_a_form_naming_another_customer_than_the_flows_own_writes_no_file(counter):
    container = counter
    flows = container.flows
    other = {**FORM, "special_reason": "大客户", "customer": {"fund_account": "88009999", "name": "李四"}}
    iid = flows.start_instance(as_("sam"), "fee_writeback", "individual", other, title="他人费率",
                               fund_account="88001234").id
    container.scheduler.tick()
    instance = flows.instance(iid)
    assert instance.outputs["counter_writeback"]["status"] == "failed" and not outbox(container)
    assert open_task(instance)["node"] == "writeback_repair"


@pytest.fixture
def screened(firm):
    container, _ = firm
    load_demo_screening_list(container)
    publish_flow(container.flows, "opening_screened", OPENING_WITH_SCREENING, business_type="account_opening")
    return container


def start_opening(container, name):
    iid = container.flows.start_instance(as_("sam"), "opening_screened", "individual", {**OPENING, "name": name},
                                         title=f"{name}开户").id
    container.scheduler.tick()
    return iid


def test_a_screening_hit_waits_for_compliance_and_a_cleared_hit_goes_on(screened):
    container = screened
    iid = start_opening(container, "王建國")  # the traditional form of the listed 王建国
    instance = container.flows.instance(iid)
    assert instance.tokens == {"t1": "screening"} and not [t for t in instance.tasks.values()]
    screening = waiting_result(instance, "aml_screening")
    assert screening["hit"] is True and screening["hits"] >= 1

    container.compliance.review(COMPLIANCE, UUID(screening["screening_id"]), "clear",
                                "同名不同人 same name, another person")
    instance = container.flows.instance(iid)
    assert open_task(instance)["node"] == "ops_review"
    assert instance.outputs["screening"]["decision"] == "cleared"


def test_a_confirmed_hit_ends_the_flow_without_a_review_and_nobody_is_told_why(screened):
    container = screened
    iid = start_opening(container, "王建国")
    screening = waiting_result(container.flows.instance(iid), "aml_screening")
    container.compliance.review(COMPLIANCE, UUID(screening["screening_id"]), "confirm",
                                "名单人员 on the list")
    instance = container.flows.instance(iid)
    assert instance.status == "rejected" and not [t for t in instance.tasks.values()]


def test_nobody_on_a_list_goes_straight_to_review(screened):
    container = screened
    iid = start_opening(container, "李四")
    instance = container.flows.instance(iid)
    assert open_task(instance)["node"] == "ops_review" and instance.outputs["screening"]["hit"] is False
