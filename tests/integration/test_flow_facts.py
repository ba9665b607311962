"""Flow facts in ClickHouse (issue 15): one row per instance, per node visit and per decision,
with wall and working durations over the business calendar (the 2026 Spring Festival here); the
same figures whether the sink folds an instance from memory or from the event store, and after a
rebuild."""
from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from domain.shared.aggregate import LedgerAggregate
from projections.analytics.flow_facts import FlowFactsSink
from projections.analytics.report_engine import ReportSpec, Scope, run_report
from tests.integration.flow_firm import ADMIN, TENANT, as_, open_task, publish_flow

SH = ZoneInfo("Asia/Shanghai")
REASONS = [{"code": "DATA_INCOMPLETE", "label": "资料不全", "counted": True},
           {"code": "CUSTOMER_REQUEST", "label": "客户要求", "counted": False}]
REVIEW = {"nodes": [{"id": "start", "type": "start", "name": "发起"},
                    {"id": "review", "type": "approval", "name": "运营审核", "mode": "any",
                     "assignees": [{"kind": "role", "value": "ops"}], "sla_seconds": 7200},
                    {"id": "check", "type": "approval", "name": "结算复核", "mode": "any",
                     "assignees": [{"kind": "role", "value": "clearing"}], "return_targets": ["review"]},
                    {"id": "end", "type": "end", "name": "完成"}],
          "edges": [{"source": "start", "target": "review"}, {"source": "review", "target": "check"},
                    {"source": "check", "target": "end"}]}


@pytest.fixture
def history(firm, monkeypatch):
    """Three reviews: one opened before the Spring Festival, breached, returned once and completed;
    one rejected; one approved straight through. Events are stamped by the test's clock (as they
    are by the real one in service), so the durations are exact."""
    container, clock = firm
    monkeypatch.setattr(LedgerAggregate.Event, "create_timestamp",
                        staticmethod(lambda: clock.now.astimezone(timezone.utc)))
    flows = container.flows
    container.calendar.open_calendar(ADMIN, None, "公司工作日历")
    container.calendar.seed_year(ADMIN, 2026)
    publish_flow(flows, "review", REVIEW, reason_codes=REASONS)

    def at(*when):
        clock.now = datetime(*when, tzinfo=SH)

    def act(who, iid, verb, *args, **kwargs):
        task = open_task(flows.instance(iid))
        getattr(flows, verb)(as_(who), iid, task.id, *args, **kwargs)

    at(2026, 2, 13, 16, 0)  # the Friday before the festival
    slow = flows.start_instance(as_("sam"), "review", "institution", TENANT, title="慢").id
    at(2026, 2, 14, 9, 30)  # the make-up Saturday: 2 working hours after it opened
    assert container.scheduler.tick() == 1  # breached
    at(2026, 2, 24, 10, 0)  # after the festival
    act("olga", slow, "approve", "ok")
    at(2026, 2, 24, 11, 0)
    act("clara", slow, "return_to", "review", "资料不全", reason_code="DATA_INCOMPLETE")
    at(2026, 2, 24, 14, 0)
    act("oscar", slow, "approve", "补齐")
    at(2026, 2, 24, 15, 0)
    act("carl", slow, "approve", "ok")

    at(2026, 3, 2, 9, 0)
    rejected = flows.start_instance(as_("sam"), "review", "institution", TENANT, title="拒").id
    at(2026, 3, 2, 9, 30)
    act("olga", rejected, "reject", "不符", reason_code="CUSTOMER_REQUEST")

    at(2026, 3, 2, 10, 0)
    quick = flows.start_instance(as_("sam"), "review", "institution", TENANT, title="快").id
    at(2026, 3, 2, 10, 20)
    act("olga", quick, "approve", "ok")
    at(2026, 3, 2, 10, 30)
    act("clara", quick, "approve", "ok")
    return container, {"slow": slow, "rejected": rejected, "quick": quick}


def _facts(container) -> dict[str, list[tuple]]:
    db = container.clickhouse.db
    q = container.clickhouse.query
    return {
        "instances": q("SELECT instance_id, outcome, wall_seconds, working_seconds, returns, rejections, visits,"
                       f" sla_breaches, first_pass, sla_met FROM {db}.flow_instance_facts FINAL"
                       " WHERE definition_key = 'review' ORDER BY started_at"),
        "visits": q("SELECT instance_id, task_id, node, outcome, reason_code, wall_seconds, working_seconds,"
                    f" sla_breached, decided_by FROM {db}.flow_visit_facts FINAL WHERE definition_key = 'review'"
                    " ORDER BY entered_at, task_id"),
        "decisions": q("SELECT instance_id, node, decision, handler, reason_code, handling_seconds,"
                       f" handling_working_seconds FROM {db}.flow_decision_facts FINAL"
                       " WHERE definition_key = 'review' ORDER BY position"),
    }


def test_each_instance_visit_and_decision_is_a_fact_with_wall_and_working_durations(history):
    container, ids = history
    container.runners["analytics.flow_facts"].catch_up()
    facts = _facts(container)
    slow, rejected, quick = ids["slow"], ids["rejected"], ids["quick"]
    hours = 3600.0
    # Friday 16:00-17:30, the make-up Saturday 7.5 h, the festival off, Tuesday 9:00-15:00 less lunch.
    assert facts["instances"] == [
        (slow, "completed", (11 * 24 - 1) * hours, 1.5 * hours + 7.5 * hours + 5 * hours, 1, 0, 4, 1, 0, 0),
        (rejected, "rejected", 0.5 * hours, 0.5 * hours, 0, 1, 1, 0, 0, 1),
        (quick, "completed", 0.5 * hours, 0.5 * hours, 0, 0, 2, 0, 1, 1),
    ]
    slow_visits = [v[2:] for v in facts["visits"] if v[0] == slow]
    assert slow_visits == [
        ("review", "approved", "", (10 * 24 + 18) * hours, 10 * hours, 1, ["operator:olga"]),
        ("check", "returned", "DATA_INCOMPLETE", 1 * hours, 1 * hours, 0, ["operator:clara"]),
        ("review", "approved", "", 3 * hours, 2 * hours, 0, ["operator:oscar"]),
        ("check", "approved", "", 1 * hours, 1 * hours, 0, ["operator:carl"]),
    ]
    assert [d[1:] for d in facts["decisions"] if d[0] == rejected] == [
        ("review", "rejected", "operator:olga", "CUSTOMER_REQUEST", 0.5 * hours, 0.5 * hours)]
    assert [d[2] for d in facts["decisions"] if d[0] == slow] == ["approved", "returned", "approved", "approved"]
    # BI tools read the same through the stable views, in hours and working days.
    db = container.clickhouse.db
    assert container.clickhouse.query(f"SELECT outcome, working_hours, working_days FROM {db}.bi_flow_instances"
                                      " WHERE instance_id = {id:UUID}", parameters={"id": slow}) == \
        [("completed", 14.0, 14 * 3600 / 27000)]


def test_the_facts_are_the_same_folded_from_the_store_mid_way_and_after_a_rebuild(history):
    container, _ = history
    runner = container.runners["analytics.flow_facts"]
    runner.catch_up()
    expected = _facts(container)
    # A fresh sink (a restart: nothing in memory) meeting instances half-way, then a rebuild.
    fresh = FlowFactsSink(runner.projection.history, runner.projection.working_time)
    runner.projection = fresh
    runner.reset()
    runner.batch_size = 3
    runner.run_batch()
    runner.projection = FlowFactsSink(fresh.history, fresh.working_time)
    runner.catch_up()
    assert _facts(container) == expected


def test_a_report_compiled_from_a_specification_answers_within_the_callers_scope(history):
    container, ids = history
    container.runners["analytics.flow_facts"].catch_up()
    spec = ReportSpec(source="visits", dimensions=["node"], measures=["count", "p90_working_hours", "returned"],
                      filters={"definition_key": ["review"]}, order_by="node", chart="bar")
    report = run_report(container.clickhouse, spec, Scope(["brokerage"], None))
    assert report["columns"] == ["node", "count", "p90_working_hours", "returned"]
    assert report["rows"] == [{"node": "check", "count": 3, "p90_working_hours": 1.0, "returned": 1},
                              {"node": "review", "count": 4, "p90_working_hours": 10.0, "returned": 0}]
    monthly = ReportSpec(source="instances", measures=["count", "first_pass_rate"], grain="month",
                         filters={"definition_key": ["review"]})
    assert [(r["period"].month, r["count"], r["first_pass_rate"]) for r in run_report(
        container.clickhouse, monthly, Scope(["brokerage"], None))["rows"]] == [(2, 1, 0.0), (3, 2, 1.0)]
    # Another line's caller, or a department outside the flows', sees nothing.
    assert run_report(container.clickhouse, spec, Scope(["ib"], None))["rows"] == []
    assert run_report(container.clickhouse, spec, Scope(["brokerage"], [str(uuid4())]))["rows"] == []
