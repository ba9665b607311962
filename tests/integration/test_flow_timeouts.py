"""SLAs in working time and what happens when they pass (超时处理): reminders, escalation to the
department head, automatic approval, rejection and return — each recorded by ``system:sla``
with the rule that fired, once, whichever process fires it."""
from __future__ import annotations

import contextlib
import copy
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.shared.errors import AlreadyExistsError, InvalidInputError, RuleViolationError
from tests.integration.flow_firm import ADMIN, START, as_, open_task

SH = ZoneInfo("Asia/Shanghai")


def _publish(container, key: str, timeout: dict | None, sla_seconds: int | None = 3600) -> None:
    """The plain tenant signing, its first node (OPS entry) with an SLA and a timeout."""
    flows = container.flows
    graph = copy.deepcopy(flows.current_definition("tenant_signing").versions[-1]["graph"])
    entry = next(n for n in graph["nodes"] if n["id"] == "ops_entry")
    entry.update({"sla_seconds": sla_seconds, **({"timeout": timeout} if timeout else {})})
    if sla_seconds is None:
        del entry["sla_seconds"]
    with contextlib.suppress(AlreadyExistsError):
        flows.create_definition(ADMIN, key, key, "tenant_signing", "brokerage", "")
    flows.save_draft(ADMIN, key, graph, {"deduplication": "none", "empty_assignee": "block"}, None)
    flows.publish(ADMIN, key, None)


def _start_at(container, clock, key: str, when: datetime):
    clock.now = when
    iid = container.flows.start_instance(as_("sam"), key, "institution", START, title="超时").id
    return iid, open_task(container.flows.instance(iid))


def _fire_at(container, clock, when: str | datetime) -> int:
    clock.now = datetime.fromisoformat(when) if isinstance(when, str) else when
    return container.scheduler.tick()


def _timeline(container, iid, kind):
    container.runners["flows.instances"].catch_up()
    return [e for e in container.instance_queries.timeline(iid) if e["kind"] == kind]


@pytest.fixture
def festival(firm):
    container, clock = firm
    container.calendar.open_calendar(ADMIN, None, "公司工作日历")
    container.calendar.seed_year(ADMIN, 2026)
    return container, clock


def test_a_two_hour_sla_opened_on_the_last_working_day_before_the_spring_festival_breaches_after_it(festival):
    container, clock = festival
    _publish(container, "quick_review", None, sla_seconds=7200)
    # The Saturday before the festival is a make-up working day (调休): 30 minutes left of it,
    # then nine days off, then 90 minutes of Tuesday 24 February.
    iid, task = _start_at(container, clock, "quick_review", datetime(2026, 2, 14, 17, 0, tzinfo=SH))
    due = datetime(2026, 2, 24, 10, 30, tzinfo=SH)
    assert datetime.fromisoformat(task["sla_due_at"]) == due
    assert _fire_at(container, clock, due - timedelta(minutes=1)) == 0
    assert _fire_at(container, clock, due) == 1
    assert container.flows.instance(iid).tasks[task["id"]]["overdue"]


def test_an_sla_opened_on_the_friday_before_the_festival_runs_into_the_make_up_saturday(festival):
    container, clock = festival
    _publish(container, "quick_review", None, sla_seconds=7200)
    _, task = _start_at(container, clock, "quick_review", datetime(2026, 2, 13, 16, 30, tzinfo=SH))
    assert datetime.fromisoformat(task["sla_due_at"]) == datetime(2026, 2, 14, 10, 0, tzinfo=SH)


def test_reminders_three_times_then_escalation_to_the_department_head(festival):
    container, clock = festival
    _publish(container, "escalating", {"remind_every_seconds": 3600, "remind_times": 3, "action": "escalate",
                                       "escalate_to": [{"kind": "department_head"}]})
    iid, task = _start_at(container, clock, "escalating", datetime(2026, 3, 2, 9, 0, tzinfo=SH))  # a Monday
    assert _fire_at(container, clock, task["sla_due_at"]) == 1           # breached at 10:00
    steps = []
    for _ in range(4):
        at = container.flows.instance(iid).tasks[task["id"]].timeout_at
        steps.append(datetime.fromisoformat(at).astimezone(SH).strftime("%H:%M"))
        assert _fire_at(container, clock, datetime.fromisoformat(at) - timedelta(seconds=1)) == 0
        assert _fire_at(container, clock, at) == 1
        assert container.scheduler.tick() == 0                           # once, however often it fires
    # Every hour of working time after the deadline; lunch does not count.
    assert steps == ["11:00", "12:00", "14:00", "15:00"]
    instance = container.flows.instance(iid)
    assert instance.tasks[task["id"]].reminders == 3
    assert _timeline(container, iid, "timeout_acted") == []
    assert instance.current_handlers(open_task(instance)) == ["operator:olga", "operator:oscar", "operator:hank"]
    reminded = _timeline(container, iid, "sla_reminded")
    assert [e["detail"]["count"] for e in reminded] == [1, 2, 3]
    (escalated,) = _timeline(container, iid, "escalated")
    assert escalated["actor"] == "system:sla" and escalated["detail"]["added"] == ["operator:hank"]
    assert escalated["detail"]["rule"] == "timeout"
    assert all(e["actor"] == "system:sla" for e in reminded)
    # Each reminder urges the handlers; the department head hears of the escalation.
    container.runners["notifications.inbox"].catch_up()
    olga = [n["kind"] for n in container.notification_queries.page("operator:olga", limit=50)]
    assert olga.count("task_urged") == 3
    (heard,) = container.notification_queries.page("operator:hank", limit=50)
    assert heard["kind"] == "sla_escalated" and heard["instance_id"] == iid
    # The department head now has the task in the todo list.
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    assert [t["task_id"] for t in container.instance_queries.todo("operator:hank", everyone, filters={})] == \
        [task["id"]]


def test_a_timeout_approves_on_its_own_and_the_flow_goes_on(festival):
    container, clock = festival
    _publish(container, "auto_ok", {"action": "auto_approve", "comment": "超时默认同意"})
    iid, task = _start_at(container, clock, "auto_ok", datetime(2026, 3, 2, 9, 0, tzinfo=SH))
    assert _fire_at(container, clock, task["sla_due_at"]) == 1
    instance = container.flows.instance(iid)
    assert instance.tasks[task["id"]].status == "approved"
    assert open_task(instance)["node"] != "ops_entry"
    (acted,) = _timeline(container, iid, "timeout_acted")
    assert acted["actor"] == "system:sla" and acted["comment"] == "超时默认同意"
    assert acted["detail"]["action"] == "auto_approve"
    with pytest.raises(RuleViolationError):  # it counts as a decision: too late to withdraw
        container.flows.withdraw(as_("sam"), iid, "late")


def test_a_timeout_rejects_on_its_own(festival):
    container, clock = festival
    _publish(container, "auto_no", {"action": "auto_reject"})
    iid, task = _start_at(container, clock, "auto_no", datetime(2026, 3, 2, 9, 0, tzinfo=SH))
    assert _fire_at(container, clock, task["sla_due_at"]) == 1
    assert container.flows.instance(iid).status == "rejected"


def test_a_timeout_returns_the_flow_to_its_initiator(festival):
    container, clock = festival
    _publish(container, "auto_back", {"action": "auto_return", "return_to": "start"})
    iid, task = _start_at(container, clock, "auto_back", datetime(2026, 3, 2, 9, 0, tzinfo=SH))
    assert _fire_at(container, clock, task["sla_due_at"]) == 1
    instance = container.flows.instance(iid)
    assert instance.status == "running" and open_task(instance)["candidates"] == ["operator:sam"]
    (returned,) = _timeline(container, iid, "returned")
    assert returned["actor"] == "system:sla"


def test_a_pending_timeout_step_is_in_the_timers_the_scheduler_rebuilds_from(festival):
    container, clock = festival
    _publish(container, "escalating", {"remind_every_seconds": 3600, "remind_times": 1, "action": "escalate",
                                       "escalate_to": [{"kind": "department_head"}]})
    iid, task = _start_at(container, clock, "escalating", datetime(2026, 3, 2, 9, 0, tzinfo=SH))
    _fire_at(container, clock, task["sla_due_at"])
    container.runners["flows.instances"].catch_up()
    timers = [t for t in container.instance_queries.timers() if t["kind"] == "timeout"]
    assert [(t["instance_id"], t["key"]) for t in timers] == [(iid, task["id"])]
    assert timers[0]["due_at"] == datetime(2026, 3, 2, 11, 0, tzinfo=SH)
    # Decided before the step: the step is gone, and nothing fires.
    container.flows.approve(as_("olga"), iid, task["id"], "ok")
    assert _fire_at(container, clock, timers[0]["due_at"]) == 0


def test_publishing_refuses_a_timeout_that_cannot_work(firm):
    container, _ = firm
    for timeout, sla in [({"action": "escalate"}, 3600), ({"action": "auto_approve"}, None),
                         ({"remind_times": 2, "action": "auto_reject"}, 3600),
                         ({"action": "auto_return", "return_to": "nowhere"}, 3600)]:
        with pytest.raises((InvalidInputError, RuleViolationError)):
            _publish(container, "broken", timeout, sla)
