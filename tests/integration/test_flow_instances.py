"""Flow instances through the application layer on real engines: the tenant signing of seed 004
(happy path, returns), all-sign and any-sign races, and the cooling-off pause with a test clock."""
from __future__ import annotations

import copy
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.flows.instance.errors import TaskAlreadyDecidedError
from domain.shared.context import CommandContext
from domain.shared.errors import PermissionDeniedError, RuleViolationError
from interfaces.demo_flows import FEE_RATE_FLOW
from tests.flows import PLAIN_SIGNING_FLOW as TENANT_SIGNING_FLOW
from tests.integration.flow_firm import ADMIN, START, TENANT, as_, open_task

OPENING = {"name": "张三", "id_number": "11010519491231002X", "phone": "13812345678",
           "bank_card": "6222021234567890128", "risk_level": "C3"}


def _opening_in_cooling_off(flows):
    started = flows.start_instance(as_("sam"), "account_opening", "individual", OPENING, title="开户")
    flows.approve(as_("olga"), started.id, open_task(flows.instance(started.id))["id"], "ok")
    return started


def test_tenant_signing_runs_with_returns_until_finance_approves(firm):
    container, _ = firm
    flows = container.flows
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="甲公司签约")
    inst = flows.instance(started.id)
    task = open_task(inst)
    assert task["node"] == "ops_entry" and task["candidates"] == ["operator:olga", "operator:oscar"]
    flows.approve(as_("olga"), started.id, task["id"], "录入完成")
    task = open_task(flows.instance(started.id))
    assert task["node"] == "ops_review"
    flows.return_to(as_("oscar"), started.id, task["id"], "ops_entry", "证照不清晰")  # OPS review → OPS entry
    task = open_task(flows.instance(started.id))
    assert task["node"] == "ops_entry"
    flows.approve(as_("oscar"), started.id, task["id"], "补充完成")
    flows.approve(as_("olga"), started.id, open_task(flows.instance(started.id))["id"], "通过")
    flows.approve(as_("clara"), started.id, open_task(flows.instance(started.id))["id"], "费率已配置")
    task = open_task(flows.instance(started.id))
    assert task["node"] == "clearing_review"
    with pytest.raises(RuleViolationError, match="may return to"):
        flows.return_to(as_("carl"), started.id, task["id"], "finance_entry", "x")
    flows.return_to(as_("carl"), started.id, task["id"], "start", "费率超出授权范围")  # back to SALES
    inst = flows.instance(started.id)
    assert inst.awaiting_resubmit  # ...and in the initiator's todo: the only open task is theirs
    assert [(t["node"], t["candidates"]) for t in inst.tasks.values() if t["status"] == "open"] == [
        ("start", ["operator:sam"])]
    with pytest.raises(RuleViolationError):
        flows.resubmit(as_("olga"), started.id)
    flows.resubmit(as_("sam"), started.id)
    for login in ("olga", "oscar", "clara", "carl", "fiona", "fiona"):
        flows.approve(as_(login), started.id, open_task(flows.instance(started.id))["id"], "ok")
    task = open_task(flows.instance(started.id))
    assert task["node"] == "tenant_sign" and task["candidates"] == ["operator:sam"]
    flows.approve(as_("sam"), started.id, task["id"], "已签署")
    inst = flows.instance(started.id)
    assert inst.status == "completed"
    assert inst.visited[-3:] == ["tenant_sign", "archive", "end"]


def test_only_current_handlers_act_and_the_initiator_may_withdraw_before_any_decision(firm):
    container, _ = firm
    flows = container.flows
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="t")
    task = open_task(flows.instance(started.id))
    with pytest.raises(PermissionDeniedError):
        flows.approve(as_("fiona"), started.id, task["id"], "not mine")
    flows.withdraw(as_("sam"), started.id, "客户改期")
    assert flows.instance(started.id).status == "withdrawn"
    with pytest.raises(TaskAlreadyDecidedError):
        flows.approve(as_("olga"), started.id, task["id"], "too late")


def _special_fee_rate(flows):
    data = {"customer": {"fund_account": "88001234"}, "exchange": "SHFE", "effective_date": "2026-12-01",
            "special_reason": "大客户", "rates": [{"id": "r1", "product": "cu", "rate": 0.5}]}
    started = flows.start_instance(as_("sam"), "fee_rate_change", "individual", data, title="特殊费率")
    flows.approve(as_("hank"), started.id, open_task(flows.instance(started.id))["id"], "ok")  # branch head
    return started.id


def _race(actions):
    barrier, results = threading.Barrier(len(actions)), [None] * len(actions)

    def run(i):
        barrier.wait()
        try:
            results[i] = ("ok", actions[i]())
        except Exception as exc:
            results[i] = ("error", exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results


def test_two_all_sign_approvers_at_once_both_count(firm):
    container, _ = firm
    flows = container.flows
    instance_id = _special_fee_rate(flows)
    inst = flows.instance(instance_id)
    clearing = next(t for t in inst.tasks.values() if t["node"] == "clearing_review")
    assert clearing["mode"] == "all" and sorted(clearing["candidates"]) == ["operator:carl", "operator:clara"]
    results = _race([lambda: flows.approve(as_("clara"), instance_id, clearing["id"], "ok"),
                     lambda: flows.approve(as_("carl"), instance_id, clearing["id"], "ok")])
    assert [r[0] for r in results] == ["ok", "ok"], results
    task = flows.instance(instance_id).tasks[clearing["id"]]
    assert sorted(task["approvals"]) == ["operator:carl", "operator:clara"] and task["status"] == "approved"


def test_two_any_sign_approvers_at_once_one_wins_the_other_gets_a_conflict(firm):
    container, _ = firm
    flows = container.flows
    instance_id = _special_fee_rate(flows)
    ops = next(t for t in flows.instance(instance_id).tasks.values() if t["node"] == "ops_review")
    results = _race([lambda: flows.approve(as_("olga"), instance_id, ops["id"], "ok"),
                     lambda: flows.approve(as_("oscar"), instance_id, ops["id"], "ok")])
    outcomes = sorted(r[0] for r in results)
    assert outcomes == ["error", "ok"], results
    error = next(r[1] for r in results if r[0] == "error")
    assert isinstance(error, TaskAlreadyDecidedError) and "already been decided" in error.message
    assert len(flows.instance(instance_id).tasks[ops["id"]]["approvals"]) == 1


def test_a_cooling_off_pause_holds_until_the_clock_passes_it(firm):
    container, clock = firm
    flows = container.flows
    started = _opening_in_cooling_off(flows)
    inst = flows.instance(started.id)
    ((token, due),) = inst.pauses.items()
    assert datetime.fromisoformat(due) == clock.now + timedelta(hours=24)
    clock.now += timedelta(hours=23, minutes=59)
    assert flows.end_pause(CommandContext.system("scheduler"), started.id, token) == "not_due"
    assert flows.instance(started.id).pauses
    clock.now += timedelta(minutes=2)
    assert flows.end_pause(CommandContext.system("scheduler"), started.id, token) == "ended"
    assert flows.end_pause(CommandContext.system("scheduler"), started.id, token) == "gone"  # twice: one effect
    inst = flows.instance(started.id)
    task = open_task(inst)
    assert not inst.pauses and task["node"] == "compliance_review" and task["candidates"] == ["operator:ada"]


def test_form_data_is_validated_at_start(firm):
    container, _ = firm
    bad = copy.deepcopy(START)
    bad["commercial"]["term_months"] = 0
    from domain.shared.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as err:
        container.flows.start_instance(as_("sam"), "tenant_signing", "institution", bad, title="t")
    assert err.value.errors[0]["path"] == "commercial.term_months"


def test_the_scheduler_fires_a_due_pause_once_even_after_redis_is_flushed(firm):
    container, clock = firm
    flows, scheduler = container.flows, container.scheduler
    started = _opening_in_cooling_off(flows)
    assert scheduler.tick() == 0
    # Redis loses everything (restart or flush) during the wait: the queue is rebuilt from events.
    container.runners["flows.instances"].catch_up()
    keys = container.redis.client.keys(container.redis.key("*"))
    container.redis.client.delete(*keys)
    assert container.redis.check() and container.redis.client.zcard(container.redis.key("flows:due")) == 1
    clock.now += timedelta(hours=25)
    assert scheduler.tick() == 1
    assert scheduler.tick() == 0  # fired once
    assert open_task(flows.instance(started.id))["node"] == "compliance_review"


def test_due_pauses_still_fire_from_postgresql_when_redis_is_down(firm):
    container, clock = firm
    flows = container.flows
    _opening_in_cooling_off(flows)
    container.runners["flows.instances"].catch_up()
    container.redis.available = False  # as the supervisor marks it when Redis stops answering
    clock.now += timedelta(hours=25)
    assert container.scheduler.tick() == 1
    container.redis.available = True


def test_the_todo_list_and_detail_read_models(firm):
    container, _ = firm
    flows = container.flows
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="甲公司签约")
    container.runners["flows.instances"].catch_up()
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    todo = container.instance_queries.todo("operator:olga", everyone, filters={})
    assert [(t["title"], t["node"], t["current_nodes"]) for t in todo] == [("甲公司签约", "ops_entry", ["ops_entry"])]
    assert container.instance_queries.todo("operator:fiona", everyone, filters={}) == []
    flows.approve(as_("olga"), started.id, todo[0]["task_id"], "done")
    container.runners["flows.instances"].catch_up()
    assert container.instance_queries.todo("operator:olga", everyone, filters={})[0]["node"] == "ops_review"
    timeline = [(e["kind"], e["actor"]) for e in container.instance_queries.timeline(started.id)]
    assert ("approved", "operator:olga") in timeline and timeline[0] == ("started", "operator:sam")
    assert container.instance_queries.instance(started.id)["current_nodes"] == ["ops_review"]


def test_delegate_urge_and_cc(firm):
    container, _ = firm
    flows = container.flows
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="委派")
    task = open_task(flows.instance(started.id))
    flows.delegate(as_("olga"), started.id, task["id"], "operator:fiona", "请财务看一下")
    assert open_task(flows.instance(started.id))["candidates"] == ["operator:fiona", "operator:oscar"]
    flows.approve(as_("fiona"), started.id, task["id"], "没问题")  # an opinion, not a decision
    task = open_task(flows.instance(started.id))
    assert task["node"] == "ops_entry" and task["candidates"] == ["operator:olga", "operator:oscar"]
    flows.urge(as_("sam"), started.id, task["id"])
    flows.cc(as_("sam"), started.id, ["operator:clara"], "知悉")
    container.runners["flows.instances"].catch_up()
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    (todo,) = container.instance_queries.todo("operator:olga", everyone, filters={"urgent": True})
    assert todo["urgent"] and todo["task_id"] == task["id"]
    assert [c["title"] for c in container.instance_queries.copied_to("operator:clara", everyone)] == ["委派"]
    kinds = [e["kind"] for e in container.instance_queries.timeline(started.id)]
    assert {"delegated", "delegation_answered", "urged", "cc"} <= set(kinds)


def test_consecutive_approvals_by_the_same_person_are_de_duplicated(firm):
    container, _ = firm
    flows = container.flows
    flows.save_draft(ADMIN, "tenant_signing", TENANT_SIGNING_FLOW,
                     {"deduplication": "approve_consecutive", "empty_assignee": "block"}, None)
    flows.publish(ADMIN, "tenant_signing", None)
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="去重")
    flows.approve(as_("olga"), started.id, open_task(flows.instance(started.id))["id"], "录入")
    inst = flows.instance(started.id)
    review = next(t for t in inst.tasks.values() if t["node"] == "ops_review")
    assert review["status"] == "approved" and review["approvals"] == ["operator:olga"]
    assert open_task(inst)["node"] == "clearing_entry"


def test_a_restart_during_the_wait_loses_nothing(firm, tmp_path):
    from interfaces.bootstrap import Container, Engines
    from tests.engines import make_settings

    container, clock = firm
    started = _opening_in_cooling_off(container.flows)
    container.runners["flows.instances"].catch_up()
    settings = make_settings(tmp_path, redis_prefix=container.settings.redis_prefix + "restarted:",
                             clickhouse_database=container.settings.clickhouse_database)
    engines = Engines(container.engines.database_url, container.engines.redis_url, container.engines.clickhouse_url)
    restarted = Container.start(settings, engines=engines)  # a new process: empty Redis namespace, rebuilt
    try:
        restarted.flows.clock = clock
        assert restarted.redis.client.zcard(restarted.redis.key("flows:due")) == 1
        clock.now += timedelta(hours=25)
        assert restarted.scheduler.tick() == 1 and restarted.scheduler.tick() == 0
        assert open_task(restarted.flows.instance(started.id))["node"] == "compliance_review"
    finally:
        restarted.close()


def test_decisions_per_node_and_handler_reach_clickhouse_for_assessment(firm):
    container, _ = firm
    flows = container.flows
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="考核")
    flows.approve(as_("olga"), started.id, open_task(flows.instance(started.id))["id"], "ok")
    flows.return_to(as_("oscar"), started.id, open_task(flows.instance(started.id))["id"], "ops_entry", "驳回")
    sink = container.runners["analytics.flow_decisions"]
    sink.catch_up()
    rows = container.clickhouse.query(
        f"SELECT node, handler, decision, target_node FROM {container.clickhouse.db}.flow_decisions FINAL"
        " ORDER BY position")
    assert rows == [("ops_entry", "operator:olga", "approved", ""),
                    ("ops_review", "operator:oscar", "returned", "ops_entry")]


def test_an_administrator_reassigns_a_task_to_another_role(firm):
    container, _ = firm
    flows = container.flows
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="改派")
    task = open_task(flows.instance(started.id))
    flows.reassign(ADMIN, started.id, task["id"], [{"kind": "role", "value": "finance"}], "运营人手不足")
    assert open_task(flows.instance(started.id))["candidates"] == ["operator:fiona"]
    with pytest.raises(PermissionDeniedError):
        flows.approve(as_("olga"), started.id, task["id"], "no longer mine")
    with pytest.raises(RuleViolationError, match="nobody matches"):
        flows.reassign(ADMIN, started.id, task["id"], [{"kind": "role", "value": "nobody"}], "x")


def test_an_sla_in_working_hours_warns_before_its_deadline_and_marks_a_missed_one_overdue(firm):
    container, clock = firm
    flows = container.flows
    # Opened on Saturday 21 November 2026 at 17:00 in Shanghai: 4 working hours (09:00-12:00,
    # 13:00-17:30) run from Monday morning, so the deadline is Monday 14:00 and the warning,
    # an hour of working time before it, Monday 12:00.
    started = flows.start_instance(as_("sam"), "account_opening", "individual", OPENING, title="SLA")
    task = open_task(flows.instance(started.id))
    monday = datetime(2026, 11, 23, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert datetime.fromisoformat(task["sla_due_at"]) == monday.replace(hour=14)
    assert datetime.fromisoformat(task["sla_warn_at"]) == monday.replace(hour=12)
    clock.now = monday.replace(hour=11, minute=59)
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    assert container.scheduler.tick() == 0
    container.runners["flows.instances"].catch_up()
    assert container.instance_queries.todo("operator:olga", everyone, filters={"urgent": True}) == []
    clock.now += timedelta(minutes=1)  # an hour of working time before the deadline: the warning
    assert container.scheduler.tick() == 1 and container.scheduler.tick() == 0
    assert flows.instance(started.id).tasks[task["id"]]["sla_warned"]
    container.runners["flows.instances"].catch_up()
    (todo,) = container.instance_queries.todo("operator:olga", everyone, filters={"urgent": True})
    assert todo["sla_warned"] and not todo["overdue"]
    clock.now += timedelta(hours=2)
    assert container.scheduler.tick() == 1 and container.scheduler.tick() == 0
    assert flows.instance(started.id).tasks[task["id"]]["overdue"]
    container.runners["flows.instances"].catch_up()
    (todo,) = container.instance_queries.todo("operator:olga", everyone, filters={"urgent": True})
    assert todo["task_id"] == task["id"] and todo["overdue"]
    kinds = [e["kind"] for e in container.instance_queries.timeline(started.id)]
    assert kinds.index("sla_warning") < kinds.index("sla_breached")


def test_a_completed_flow_starts_its_follow_up(firm):
    container, _ = firm
    flows = container.flows
    flows.create_definition(ADMIN, "tenant_signing_followup", "原件跟进 Originals follow-up", "tenant_signing",
                            "brokerage", "")  # chain_to must name an existing flow of the same line
    chained = copy.deepcopy(TENANT_SIGNING_FLOW)
    flows.save_draft(ADMIN, "tenant_signing", chained, {"deduplication": "none", "empty_assignee": "block",
                                                         "chain_to": "tenant_signing_followup"}, None)
    flows.publish(ADMIN, "tenant_signing", None)
    followup = {"nodes": [{"id": "start", "type": "start", "name": "start"},
                          {"id": "collect", "type": "approval", "name": "原件收回", "mode": "single",
                           "assignees": [{"kind": "role", "value": "ops"}]},
                          {"id": "end", "type": "end", "name": "end"}],
                "edges": [{"source": "start", "target": "collect"}, {"source": "collect", "target": "end"}]}
    flows.save_draft(ADMIN, "tenant_signing_followup", followup, {"deduplication": "none",
                                                                  "empty_assignee": "block"}, None)
    flows.publish(ADMIN, "tenant_signing_followup", None)
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="接龙")
    flows.edit_at_task(as_("olga"), started.id, open_task(flows.instance(started.id))["id"], TENANT, None)
    for login in ("olga", "olga", "clara", "clara", "fiona", "fiona", "sam"):
        flows.approve(as_(login), started.id, open_task(flows.instance(started.id))["id"], "ok")
    done = flows.instance(started.id)
    assert done.status == "completed" and done.chain["problem"] is None
    follow = flows.instance(done.chain["next_instance"])
    assert follow.definition_key == "tenant_signing_followup" and follow.initiator == "operator:sam"
    assert follow.chained_from == started.id and open_task(follow)["node"] == "collect"
    assert container.audit.trail(follow.id)[0].actor == "system:flow-chaining"


def test_signers_added_before_and_after(firm):
    container, _ = firm
    flows = container.flows
    started = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="加签")
    task = open_task(flows.instance(started.id))
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}

    def todo_holders():  # whose todo list shows the task: exactly its current handlers
        container.runners["flows.instances"].catch_up()
        return [login for login in ("olga", "oscar", "fiona", "clara")
                if any(t["task_id"] == task["id"] for t in
                       container.instance_queries.todo(f"operator:{login}", everyone, filters={}))]

    assert todo_holders() == ["olga", "oscar"]
    flows.add_signer(as_("olga"), started.id, task["id"], "operator:fiona", "before", "先请财务看")
    inst = flows.instance(started.id)
    assert inst.current_handlers(inst.tasks[task["id"]]) == ["operator:fiona"]
    assert todo_holders() == ["fiona"]
    with pytest.raises(PermissionDeniedError):
        flows.approve(as_("olga"), started.id, task["id"], "not yet")
    flows.approve(as_("fiona"), started.id, task["id"], "财务意见")
    assert todo_holders() == ["olga", "oscar"]
    flows.add_signer(as_("olga"), started.id, task["id"], "operator:clara", "after", "再请清算确认")
    flows.approve(as_("olga"), started.id, task["id"], "录入完成")
    inst = flows.instance(started.id)
    assert inst.tasks[task["id"]]["status"] == "open"
    assert inst.current_handlers(inst.tasks[task["id"]]) == ["operator:clara"]
    assert todo_holders() == ["clara"]
    flows.approve(as_("clara"), started.id, task["id"], "确认")
    assert open_task(flows.instance(started.id))["node"] == "ops_review"
    kinds = [e.event_type for e in container.audit.trail(started.id)]
    assert kinds.count("SignerAdded") == 2 and kinds.count("SignerApproved") == 2


def test_branches_decide_on_initiator_attributes_and_sql_data_sources_and_record_them(firm):
    container, _ = firm
    flows, forms = container.flows, container.forms
    forms.sync_customers(ADMIN, [{"fund_account": "88001234", "name": "大客户", "risk_level": "C5"}])
    container.runners["forms.catalogue"].catch_up()
    forms.define_data_source(ADMIN, "risk", "Risk level", "sql", {
        "sql": "SELECT fund_account, risk_level FROM forms_customers WHERE fund_account = :fund_account", "cache_seconds": 0})
    graph = {"nodes": [{"id": "start", "type": "start", "name": "s"},
                       {"id": "gw", "type": "exclusive", "name": "gw"},
                       {"id": "strict", "type": "approval", "name": "strict", "mode": "single",
                        "assignees": [{"kind": "role", "value": "finance"}]},
                       {"id": "light", "type": "approval", "name": "light", "mode": "single",
                        "assignees": [{"kind": "role", "value": "ops"}]},
                       {"id": "end", "type": "end", "name": "e"}],
             "edges": [{"source": "start", "target": "gw"},
                       {"source": "gw", "target": "strict",
                        "condition": 'ds.risk.exists(r, r.risk_level == "C5") && "sales" in initiator.roles'},
                       {"source": "gw", "target": "light", "default": True},
                       {"source": "strict", "target": "end"}, {"source": "light", "target": "end"}]}
    flows.create_definition(ADMIN, "risky", "risky", "tenant_signing", "brokerage", "")
    flows.save_draft(ADMIN, "risky", graph, {"deduplication": "none", "empty_assignee": "block"}, None)
    flows.publish(ADMIN, "risky", None)
    strict = flows.start_instance(as_("sam"), "risky", "institution", TENANT, title="r", fund_account="88001234")
    light = flows.start_instance(as_("sam"), "risky", "institution", TENANT, title="r", fund_account="66009999")
    assert open_task(flows.instance(strict.id))["node"] == "strict"
    assert open_task(flows.instance(light.id))["node"] == "light"
    taken = next(e for e in container.audit.trail(strict.id) if e.event_type == "BranchTaken")
    assert taken.data["inputs"] == {"risk": [{"fund_account": "88001234", "risk_level": "C5"}]} and taken.data["targets"] == ["strict"]


def test_a_stale_in_memory_instance_never_decides_anything(firm):
    """Process A keeps the instance in memory between commands (application/shared/hot.py);
    process B moves it on meanwhile. A's next commands must act on the stored state."""
    from application.flows.service import FlowsApplication

    container, clock = firm
    a = container.flows
    b = FlowsApplication(container.store, forms=container.forms, candidates=a.candidates,
                         facts=a.facts, clock=clock)
    started = a.start_instance(as_("sam"), "tenant_signing", "institution", START, title="甲公司签约")
    entry = open_task(b.instance(started.id))
    # B decides OPS entry: the task A still holds as open is gone and a new one is open.
    b.approve(as_("olga"), started.id, entry["id"], "录入完成")
    review = open_task(b.instance(started.id))
    assert review["node"] == "ops_review"
    # On its stale copy A would refuse (no such task): the refusal is re-run on fresh state.
    a.approve(as_("oscar"), started.id, review["id"], "通过")
    assert a.hot.reruns == 1
    # B remarks: A's copy is one event behind, its append takes a used version, the conflict
    # is re-run on fresh state and both actions are kept.
    b.remark(as_("sam"), started.id, "客户来电催办")
    clearing = open_task(b.instance(started.id))
    a.approve(as_("clara"), started.id, clearing["id"], "费率已配置")
    assert a.hot.reruns == 2
    kinds = [type(e).__name__ for e in a.events.get(started.id)]
    assert kinds.count("Remarked") == 1
    assert a.instance(started.id).tasks[clearing["id"]]["status"] == "approved"
    # A late approver gets the same answer from the cached and from the stored state.
    with pytest.raises(TaskAlreadyDecidedError):
        a.approve(as_("carl"), started.id, clearing["id"], "late")


@pytest.mark.parametrize("mode", ["all", "sequential"])
def test_the_todo_list_shows_a_countersign_task_to_those_still_to_sign(firm, mode):
    container, _ = firm
    flows = container.flows
    flow = copy.deepcopy(FEE_RATE_FLOW)
    next(n for n in flow["nodes"] if n["id"] == "clearing_review")["mode"] = mode
    flows.create_definition(ADMIN, f"fee_rate_{mode}", "fee rate", "fee_rate_change", "brokerage", "")
    flows.save_draft(ADMIN, f"fee_rate_{mode}", flow, {"deduplication": "none", "empty_assignee": "block"}, None)
    flows.publish(ADMIN, f"fee_rate_{mode}", None)
    data = {"customer": {"fund_account": "88001234"}, "exchange": "SHFE", "effective_date": "2026-12-01",
            "special_reason": "大客户", "rates": [{"id": "r1", "product": "cu", "rate": 0.5}]}
    started = flows.start_instance(as_("sam"), f"fee_rate_{mode}", "individual", data, title="会签")
    flows.approve(as_("hank"), started.id, open_task(flows.instance(started.id))["id"], "ok")
    task = next(t for t in flows.instance(started.id).tasks.values() if t["node"] == "clearing_review")
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}

    def holders():
        container.runners["flows.instances"].catch_up()
        return [c for c in task["candidates"] if any(
            t["task_id"] == task["id"] for t in container.instance_queries.todo(c, everyone, filters={}))]

    first, second = task["candidates"]
    assert holders() == ([first, second] if mode == "all" else [first])
    flows.approve(CommandContext(first, "req"), started.id, task["id"], "ok")
    assert holders() == [second]


def test_a_pause_started_while_redis_was_unreachable_still_fires(firm):
    container, clock = firm
    flows = container.flows
    container.redis.available = False  # a blip: the timer's Redis write is skipped
    started = _opening_in_cooling_off(flows)
    container.runners["flows.instances"].catch_up()
    # The supervisor's own thread may already have seen Redis answer (and rebuilt from a read
    # model that had not applied the pause yet; its minute reconciliation would catch that):
    # the recovery under test is the one after the read model has the pause.
    container.redis.available = False
    assert container.redis.check()  # Redis answers again with its data intact: rebuilt anyway
    assert container.redis.client.zcard(container.redis.key("flows:due")) >= 1
    clock.now += timedelta(hours=25)
    assert container.scheduler.tick() == 1
    assert not flows.instance(started.id).pauses


def test_a_due_timer_whose_command_fails_is_retried_not_dropped(firm):
    container, clock = firm
    flows, scheduler = container.flows, container.scheduler
    graph = {"nodes": [{"id": "start", "type": "start", "name": "s"},
                       {"id": "wait", "type": "pause", "name": "w", "pause_seconds": 60},
                       {"id": "rev", "type": "approval", "name": "r", "mode": "single",
                        "assignees": [{"kind": "role", "value": "auditor"}]},
                       {"id": "end", "type": "end", "name": "e"}],
             "edges": [{"source": "start", "target": "wait"}, {"source": "wait", "target": "rev"},
                       {"source": "rev", "target": "end"}]}
    flows.create_definition(ADMIN, "wait_then_audit", "w", "tenant_signing", "brokerage", "")
    flows.save_draft(ADMIN, "wait_then_audit", graph, {"deduplication": "none", "empty_assignee": "block"}, None)
    flows.publish(ADMIN, "wait_then_audit", None)
    started = flows.start_instance(as_("sam"), "wait_then_audit", "institution", TENANT, title="w")
    queue = container.redis.key("flows:due")
    clock.now += timedelta(minutes=5)
    assert scheduler.tick() == 0 and scheduler.failures == 1  # nobody holds 'auditor' yet
    assert container.redis.client.zcard(queue) == 1 and flows.instance(started.id).pauses
    scheduler._retry_at.clear()  # the retry delay has passed
    access = container.access
    dept = access.create_department(ADMIN, "AUDIT", "Audit", "other", None).id
    auditor = access.create_operator(ADMIN, "audrey", "audrey", dept, None, None, None).id
    access.create_role(ADMIN, "auditor", "auditor", ["access.departments.view"])
    access.grant_roles(ADMIN, auditor, ["auditor"])
    access.set_business_lines(ADMIN, auditor, ["brokerage"])
    container.runners["access.principals"].catch_up()
    clock.now += timedelta(hours=2)
    assert scheduler.tick() == 1
    assert open_task(flows.instance(started.id))["candidates"] == ["operator:audrey"]
