"""IF-THEN rules on flows (seed 001 §三): the three examples — route by a region field, warn at
1.5 h and escalate at 2 h, approve managers' travel under 5,000 on their own — and the other
triggers and actions; every firing recorded by ``system:rules`` with what its condition saw, so a
replay never evaluates a rule again; publishing refuses rules that cannot work."""
from __future__ import annotations

import copy
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from domain.flows.instance import FlowInstance
from domain.shared.errors import InvalidInputError
from interfaces.demo_flows import EXPENSE_FLOW
from interfaces.demo_forms import EXPENSE
from tests.integration.flow_firm import ADMIN, AUTO, as_, open_task

SH = ZoneInfo("Asia/Shanghai")
MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=SH)
CLAIM = {"expense": {"kind": "travel", "amount": 3200.0, "region": "east", "purpose": "客户拜访"}}


def _rules(**replace: dict) -> list[dict]:
    """The demo's rules, as this firm has them: finance is ``clearing`` here, northern claims go to
    carl, and escalation reaches the administrators (ada)."""
    rules = copy.deepcopy(EXPENSE_FLOW["rules"])
    for rule in rules:
        for action in rule["actions"]:
            if action.get("to") == [{"kind": "operator", "value": "zheng.hao"}]:
                action["to"] = [{"kind": "operator", "value": "carl"}]
            if action.get("to") == [{"kind": "role", "value": "flow_admin"}]:
                action["to"] = [{"kind": "role", "value": "admin"}]
        rule.update(replace.get(rule["id"], {}))
    return rules


def _graph(rules: list[dict] | None = None, **top) -> dict:
    graph = copy.deepcopy(EXPENSE_FLOW)
    for node in graph["nodes"]:
        if node["id"] == "finance_review":
            node["assignees"] = [{"kind": "role", "value": "clearing"}]
            node.pop("timeout")
    graph["rules"] = _rules() if rules is None else rules
    return {**graph, **top}


@pytest.fixture
def expenses(firm):
    container, clock = firm
    forms, flows = container.forms, container.flows
    forms.create_business_type(ADMIN, "expense_claim", "expense_claim", "brokerage", "", ["employee"])
    forms.save_draft(ADMIN, "expense_claim", "employee", EXPENSE, None)
    forms.publish(ADMIN, "expense_claim", None)
    flows.create_definition(ADMIN, "expense_claim", "expense_claim", "expense_claim", "brokerage", "")
    container.calendar.open_calendar(ADMIN, None, "公司工作日历")
    container.calendar.seed_year(ADMIN, 2026)
    clock.now = MONDAY_9
    return container, clock


def _publish(container, graph: dict, key: str = "expense_claim") -> None:
    container.flows.save_draft(ADMIN, key, graph, {"deduplication": "none", "empty_assignee": "block"}, None)
    container.flows.publish(ADMIN, key, None)


def _claim(container, who: str = "sam", **expense) -> FlowInstance:
    data = {"expense": {**CLAIM["expense"], **expense}}
    iid = container.flows.start_instance(as_(who), "expense_claim", "employee", data, title="差旅报销").id
    return container.flows.instance(iid)


def _timeline(container, iid, kind: str) -> list[dict]:
    container.runners["flows.instances"].catch_up()
    return [e for e in container.instance_queries.timeline(iid) if e["kind"] == kind]


def _fired(instance: FlowInstance) -> list[FlowInstance.RuleFired]:
    return [e for e in _events(instance) if isinstance(e, FlowInstance.RuleFired)]


_APP: dict = {}


@pytest.fixture(autouse=True)
def _flows(firm):
    _APP["flows"] = firm[0].flows


def _events(instance: FlowInstance) -> list:
    """The instance's stored events."""
    return list(_APP["flows"].events.get(instance.id))


def _approve_head_review(container, iid) -> None:
    task = open_task(container.flows.instance(iid))
    assert task.node == "head_review"
    container.flows.approve(as_("hank"), iid, task.id, "同意")


# -- 1. route by a region field ------------------------------------------------------------------
def test_a_rule_routes_a_northern_claim_to_the_person_who_handles_that_region(expenses):
    container, _ = expenses
    _publish(container, _graph())
    north = _claim(container, region="north").id
    _approve_head_review(container, north)
    instance = container.flows.instance(north)
    task = open_task(instance)
    assert task.node == "finance_review" and task.candidates == ["operator:carl"]
    (fired,) = [e for e in _fired(instance) if e.rule == "north_to_beijing_finance"]
    assert fired.actor == "system:rules" and fired.held
    assert fired.inputs["form"] == {"expense.region": "north"}
    assert fired.actions == [{"kind": "assign", "mode": "reassign", "to": ["operator:carl"]}]
    (assigned,) = _timeline(container, north, "rule_assigned")
    assert assigned["actor"] == "system:rules" and assigned["detail"]["candidates"] == ["operator:carl"]
    # Carl has it in his todo list and heard of it; clara, whom the node named, has neither (the
    # notice of the task's opening is withdrawn from her in-app list).
    container.runners["notifications.inbox"].catch_up()
    assert [n["kind"] for n in container.notification_queries.page("operator:carl", limit=10)] == ["task_arrived"]
    assert container.notification_queries.page("operator:clara", limit=10) == []
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    assert container.instance_queries.todo("operator:clara", everyone, filters={}) == []
    # The timeline names the rule and what it did, not the form values it read.
    (line,) = _timeline(container, north, "rule_fired")
    assert line["detail"]["rule"] == "north_to_beijing_finance" and "inputs" not in line["detail"]


def test_an_eastern_claim_stays_with_whoever_the_node_names_and_no_rule_is_recorded(expenses):
    container, _ = expenses
    _publish(container, _graph())
    east = _claim(container, region="east").id
    _approve_head_review(container, east)
    instance = container.flows.instance(east)
    assert sorted(open_task(instance).candidates) == ["operator:carl", "operator:clara"]
    assert _fired(instance) == []


# -- 2. warn at 1.5 h, escalate at 2 h ------------------------------------------------------------
def test_a_waiting_task_is_marked_urgent_at_90_minutes_and_escalated_at_two_hours(expenses):
    container, clock = expenses
    _publish(container, _graph())
    iid = _claim(container, kind="training").id  # not travel: nobody approves it on its own
    task = open_task(container.flows.instance(iid))
    assert task.candidates == ["operator:hank"]
    armed = container.flows.instance(iid).tasks[task.id].rule_timers
    assert {rule: datetime.fromisoformat(at).astimezone(SH).strftime("%H:%M") for rule, at in armed.items()} == \
        {"warn_at_90_minutes": "10:30", "escalate_at_2_hours": "11:00"}

    clock.now = datetime(2026, 3, 2, 10, 29, tzinfo=SH)
    assert container.scheduler.tick() == 0
    clock.now = datetime(2026, 3, 2, 10, 30, tzinfo=SH)
    assert container.scheduler.tick() == 1
    assert container.scheduler.tick() == 0                      # once, however often it is asked
    container.runners["flows.instances"].catch_up()
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    (row,) = container.instance_queries.todo("operator:hank", everyone, filters={})
    assert row["urgent"]
    container.runners["notifications.inbox"].catch_up()
    heard = container.notification_queries.page("operator:hank", limit=10)
    notice = next(n for n in heard if n["kind"] == "rule_notice")
    assert "已等待1.5小时" in notice["body"]

    clock.now = datetime(2026, 3, 2, 11, 0, tzinfo=SH)
    assert container.scheduler.tick() == 1
    instance = container.flows.instance(iid)
    assert instance.current_handlers(open_task(instance)) == ["operator:hank", "operator:ada"]
    assert [(e.rule, e.trigger, e.held) for e in _fired(instance)] == [
        ("warn_at_90_minutes", "task_overdue", True), ("escalate_at_2_hours", "task_overdue", True)]
    container.runners["notifications.inbox"].catch_up()
    assert [n["kind"] for n in container.notification_queries.page("operator:ada", limit=10)] == ["task_arrived"]
    assert "rule_notice" in [n["kind"] for n in container.notification_queries.page("operator:sam", limit=10)]


def test_a_task_decided_before_its_timed_rule_falls_due_is_never_escalated(expenses):
    container, clock = expenses
    _publish(container, _graph())
    iid = _claim(container, kind="training").id
    _approve_head_review(container, iid)
    clock.now = datetime(2026, 3, 2, 15, 0, tzinfo=SH)
    assert container.scheduler.tick() == 0
    assert _fired(container.flows.instance(iid)) == []


# -- 3. conditional automatic approval ------------------------------------------------------------
def test_a_managers_travel_claim_under_5000_is_approved_on_its_own_with_the_reason_recorded(expenses):
    container, _ = expenses
    _publish(container, _graph())
    instance = _claim(container, who="hank", amount=3200.0)
    (head,) = [t for t in instance.tasks.values() if t.node == "head_review"]
    assert head.status == "approved"
    assert open_task(instance).node == "finance_review"
    (fired,) = _fired(instance)
    assert fired.rule == "small_travel_of_managers"
    assert fired.inputs["context"]["amount"] == 3200.0
    assert fired.inputs["context"]["initiator"]["rank"] == "manager"
    (approved,) = _timeline(container, instance.id, "auto_approved")
    assert approved["actor"] == "system:rules" and approved["comment"].startswith("经理差旅费低于5000元")
    assert approved["detail"] == {"rule": "small_travel_of_managers"}


@pytest.mark.parametrize(("who", "kind", "amount"), [("sam", "travel", 3200.0), ("hank", "travel", 5000.0),
                                                     ("hank", "training", 100.0)])
def test_no_automatic_approval_for_staff_for_5000_or_more_or_for_other_expenses(expenses, who, kind, amount):
    container, _ = expenses
    _publish(container, _graph())
    instance = _claim(container, who=who, kind=kind, amount=amount)
    assert open_task(instance).node == "head_review"
    assert _fired(instance) == []


def test_a_replay_applies_what_a_rule_did_and_never_evaluates_it_again(expenses):
    container, _ = expenses
    _publish(container, _graph())
    iid = _claim(container, who="hank").id
    # A later version without the rule changes nothing for this instance: it keeps its pinned rules
    # and what they did, and its next command fires nothing again.
    _publish(container, _graph(rules=[]))
    container.flows.hot.discard(iid)
    instance = container.flows.instance(iid)
    container.flows.remark(as_("hank"), iid, "看过了")
    after = container.flows.instance(iid)
    assert len(_fired(after)) == 1 and [t.status for t in after.tasks.values()] == \
        [t.status for t in instance.tasks.values()]


# -- the other triggers and actions -----------------------------------------------------------------
def test_rules_set_a_field_at_the_start_copy_on_a_field_change_and_start_a_flow_on_completion(expenses):
    container, clock = expenses
    flows = container.flows
    flows.create_definition(ADMIN, "expense_archive", "expense_archive", "expense_claim", "brokerage", "")
    _publish(container, AUTO, key="expense_archive")
    rules = [
        {"id": "big_is_urgent", "name": "大额加急", "trigger": "instance_started",
         "condition": "context.amount >= 10000.0",
         "actions": [{"kind": "set_field", "field": "expense.priority", "value": "high"}]},
        {"id": "purpose_changed", "name": "事由变更抄送", "trigger": "field_changed", "fields": ["expense.purpose"],
         "actions": [{"kind": "cc", "to": [{"kind": "operator", "value": "fiona"}], "note": "事由已改"}]},
        {"id": "archive", "name": "办结归档", "trigger": "instance_completed",
         "condition": 'context.outcome == "completed"',
         "actions": [{"kind": "start_flow", "flow": "expense_archive"}]},
    ]
    _publish(container, _graph(rules=rules))
    instance = _claim(container, amount=12000.0)
    assert instance.data["expense"]["priority"] == "high"
    (edited,) = [e for e in _events(instance) if isinstance(e, FlowInstance.FormEdited)]
    assert edited.actor == "system:rules" and edited.reason == "rule big_is_urgent: 大额加急"
    task = open_task(instance)
    flows.approve(as_("hank"), instance.id, task.id, "同意")
    flows.approve(as_("clara"), instance.id, open_task(flows.instance(instance.id)).id, "同意")
    done = flows.instance(instance.id)
    assert done.status == "completed"
    (started,) = [e for e in _events(done) if isinstance(e, FlowInstance.RuleFlowStarted)]
    assert started.problem is None and started.actor == "system:rules"
    follow_up = flows.instance(started.instance)
    assert follow_up.definition_key == "expense_archive" and follow_up.status == "completed"
    assert follow_up.chained_from == instance.id and follow_up.initiator == "operator:sam"


def test_a_person_changing_a_watched_field_copies_someone_and_a_rules_own_change_does_not(expenses):
    container, _ = expenses
    graph = _graph(rules=[
        {"id": "purpose_changed", "name": "事由变更抄送", "trigger": "field_changed", "fields": ["expense.purpose"],
         "actions": [{"kind": "cc", "to": [{"kind": "operator", "value": "fiona"}], "note": "事由已改"}]},
        {"id": "always_normal", "name": "默认普通", "trigger": "instance_started",
         "actions": [{"kind": "set_field", "field": "expense.purpose", "value": "规则改写"}]}])
    graph["nodes"][1]["field_permissions"] = {"expense": "editable"}
    _publish(container, graph)
    instance = _claim(container, kind="training")
    assert instance.data["expense"]["purpose"] == "规则改写" and instance.cc_to == []
    task = open_task(instance)
    container.flows.edit_at_task(as_("hank"), instance.id, task.id,
                                 {"expense": {**instance.data["expense"], "purpose": "改为培训"}}, None)
    after = container.flows.instance(instance.id)
    assert after.cc_to == ["operator:fiona"]
    (copied,) = [e for e in _events(after) if isinstance(e, FlowInstance.CarbonCopied)]
    assert copied.by == "system:rules" and copied.note == "事由已改"


def test_a_flow_a_rule_cannot_start_is_recorded_with_the_reason(expenses):
    container, _ = expenses
    rules = [{"id": "sign", "name": "转签约", "trigger": "instance_started",
              "actions": [{"kind": "start_flow", "flow": "tenant_signing"}]}]
    _publish(container, _graph(rules=rules))
    instance = _claim(container, kind="training")
    (started,) = [e for e in _events(instance) if isinstance(e, FlowInstance.RuleFlowStarted)]
    assert started.instance is None and started.problem
    assert open_task(instance).node == "head_review"  # the claim itself goes on


# -- publishing -------------------------------------------------------------------------------------
def test_publishing_refuses_rules_that_cannot_work_and_says_where(expenses):
    container, _ = expenses
    bad = [
        {"id": "a", "name": "a", "trigger": "instance_started", "actions": [{"kind": "approve", "reason": "x"}]},
        {"id": "b", "name": "b", "trigger": "task_opened", "nodes": ["nowhere"],
         "actions": [{"kind": "mark_urgent"}]},
        {"id": "c", "name": "c", "trigger": "task_opened", "condition": "amount <",
         "actions": [{"kind": "mark_urgent"}]},
        {"id": "d", "name": "d", "trigger": "task_opened",
         "actions": [{"kind": "set_field", "field": "expense.colour", "value": 1}]},
        {"id": "e", "name": "e", "trigger": "task_opened",
         "actions": [{"kind": "set_field", "field": "expense.amount", "value": "lots"}]},
        {"id": "f", "name": "f", "trigger": "instance_completed",
         "actions": [{"kind": "start_flow", "flow": "expense_claim"}]},
        {"id": "g", "name": "g", "trigger": "task_overdue", "nodes": ["start"],
         "actions": [{"kind": "mark_urgent"}]},
    ]
    container.flows.save_draft(ADMIN, "expense_claim", _graph(rules=bad, amount_field="expense.region"),
                               {"deduplication": "none", "empty_assignee": "block"}, None)
    with pytest.raises(InvalidInputError) as refused:
        container.flows.publish(ADMIN, "expense_claim", None)
    where = {e["path"] for e in refused.value.errors}
    assert {"rules.a.actions[0]", "rules.b", "rules.c.condition", "rules.d.actions[0]", "rules.e.actions[0]",
            "rules.f.actions[0]", "rules.g", "amount_field"} <= where
    messages = " ".join(e["message"] for e in refused.value.errors)
    assert "cannot approve" in messages and "not a number field" in messages


def test_a_rule_of_an_unknown_kind_is_refused_when_the_draft_is_saved(expenses):
    container, _ = expenses
    rules = [{"id": "x", "name": "x", "trigger": "task_opened", "actions": [{"kind": "delete_everything"}]}]
    with pytest.raises(InvalidInputError) as refused:
        container.flows.save_draft(ADMIN, "expense_claim", _graph(rules=rules),
                                   {"deduplication": "none", "empty_assignee": "block"}, None)
    assert refused.value.code == "invalid_flow_graph"


def test_a_rule_that_sets_two_fields_keeps_both(expenses):
    container, _ = expenses
    _publish(container, _graph(rules=[
        {"id": "tidy", "name": "整理", "trigger": "instance_started",
         "actions": [{"kind": "set_field", "field": "expense.priority", "value": "high"},
                     {"kind": "set_field", "field": "expense.purpose", "value": "已整理"}]}]))
    instance = _claim(container, kind="training")
    assert instance.data["expense"]["priority"] == "high" and instance.data["expense"]["purpose"] == "已整理"
    assert container.flows.instance(instance.id).data == instance.data


def test_a_node_entered_rule_at_a_join_fires_once_when_the_branches_meet(expenses):
    container, _ = expenses
    graph = {"nodes": [{"id": "start", "type": "start", "name": "s"},
                       {"id": "split", "type": "parallel_split", "name": "split"},
                       {"id": "a", "type": "system", "name": "a", "hook": "notify"},
                       {"id": "b", "type": "system", "name": "b", "hook": "notify"},
                       {"id": "join", "type": "parallel_join", "name": "join"},
                       {"id": "review", "type": "approval", "name": "r", "mode": "any",
                        "assignees": [{"kind": "role", "value": "clearing"}]},
                       {"id": "end", "type": "end", "name": "e"}],
             "edges": [{"source": "start", "target": "split"}, {"source": "split", "target": "a"},
                       {"source": "split", "target": "b"}, {"source": "a", "target": "join"},
                       {"source": "b", "target": "join"}, {"source": "join", "target": "review"},
                       {"source": "review", "target": "end"}],
             "rules": [{"id": "met", "name": "汇合", "trigger": "node_entered", "nodes": ["join"],
                        "actions": [{"kind": "cc", "to": [{"kind": "operator", "value": "fiona"}]}]}]}
    _publish(container, graph)
    instance = _claim(container)
    assert [e.rule for e in _fired(instance)] == ["met"]


def test_publishing_refuses_a_rule_approving_an_independent_review_and_flows_starting_each_other(expenses):
    container, _ = expenses
    graph = _graph()
    graph["nodes"][1]["independent_of"] = ["initiator"]
    container.flows.save_draft(ADMIN, "expense_claim", graph, {"deduplication": "none", "empty_assignee": "block"},
                               None)
    with pytest.raises(InvalidInputError) as refused:
        container.flows.publish(ADMIN, "expense_claim", None)
    assert [e["path"] for e in refused.value.errors] == ["rules.small_travel_of_managers.actions[0]"]
    # expense_claim starts expense_followup, which starts expense_claim: refused at publish.
    _publish(container, _graph())
    flows = container.flows
    flows.create_definition(ADMIN, "expense_followup", "expense_followup", "expense_claim", "brokerage", "")
    _publish(container, {**AUTO, "rules": [{"id": "back", "name": "回", "trigger": "instance_started",
                                            "actions": [{"kind": "start_flow", "flow": "expense_claim"}]}]},
             key="expense_followup")
    with pytest.raises(InvalidInputError) as looping:
        _publish(container, _graph(rules=[{"id": "on", "name": "续", "trigger": "instance_completed",
                                           "actions": [{"kind": "start_flow", "flow": "expense_followup"}]}]))
    assert "expense_claim -> expense_followup -> expense_claim" in looping.value.errors[0]["message"]
