"""Flow statistics (issue 15, item 2) over the flow facts: volume, slow businesses and nodes, SLA
attainment, first-pass rate, rejection reasons marked as counted or not, handler ranking, stage
times per department and the 004 KPI set — exact figures of a small history on working hours,
and the caller's lines and data scope narrowing every one of them."""
from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from domain.shared.aggregate import LedgerAggregate
from interfaces.demo_forms import TENANT_SIGNING
from projections.analytics.flow_statistics import StatsFilter
from tests.integration.flow_firm import ADMIN, TENANT, as_, open_task, publish_flow
from tests.integration.test_flow_facts import REASONS, REVIEW

SH = ZoneInfo("Asia/Shanghai")
BROKERAGE = StatsFilter(business_lines=["brokerage"])


@pytest.fixture
def history(firm, monkeypatch):
    """Five instances in the first week of March 2026 (working hours 9:00-12:00, 13:00-17:30):
    A returned once then completed, B rejected, C straight through, D breached its SLA and still
    running, and E of another business type straight through."""
    container, clock = firm
    monkeypatch.setattr(LedgerAggregate.Event, "create_timestamp",
                        staticmethod(lambda: clock.now.astimezone(timezone.utc)))
    flows, forms = container.flows, container.forms
    container.calendar.open_calendar(ADMIN, None, "公司工作日历")
    container.calendar.seed_year(ADMIN, 2026)
    forms.create_business_type(ADMIN, "vip_signing", "vip_signing", "brokerage", "", ["institution"])
    forms.save_draft(ADMIN, "vip_signing", "institution", TENANT_SIGNING, None)
    forms.publish(ADMIN, "vip_signing", None)
    publish_flow(flows, "review", REVIEW, reason_codes=REASONS)
    publish_flow(flows, "vip", REVIEW, business_type="vip_signing", reason_codes=REASONS)

    def at(day, hour, minute=0):
        clock.now = datetime(2026, 3, day, hour, minute, tzinfo=SH)

    def act(who, iid, verb, *args, **kwargs):
        getattr(flows, verb)(as_(who), iid, open_task(flows.instance(iid)).id, *args, **kwargs)

    def start(key, title):
        return flows.start_instance(as_("sam"), key, "institution", TENANT, title=title).id

    at(2, 9)
    a = start("review", "A")
    at(2, 9, 30)
    act("olga", a, "approve", "ok")
    at(2, 10, 30)
    act("clara", a, "return_to", "review", "资料不全", reason_code="DATA_INCOMPLETE")
    at(2, 11)
    act("oscar", a, "approve", "补齐")
    at(2, 11, 30)
    act("carl", a, "approve", "ok")

    at(3, 9)
    b = start("review", "B")
    at(3, 9, 30)
    act("olga", b, "reject", "不符", reason_code="CUSTOMER_REQUEST")
    at(3, 10)
    c = start("review", "C")
    at(3, 10, 20)
    act("olga", c, "approve", "ok")
    at(3, 10, 30)
    act("clara", c, "approve", "ok")

    at(4, 9)
    d = start("review", "D")
    at(4, 11, 30)  # two working hours after it opened: breached
    container.scheduler.tick()
    at(4, 13, 30)  # 3.5 working hours (lunch off), 4.5 wall
    act("olga", d, "approve", "ok")
    at(4, 14)
    e = start("vip", "E")
    at(4, 14, 10)
    act("olga", e, "approve", "ok")
    at(4, 14, 30)
    act("clara", e, "approve", "ok")
    for name in ("analytics.flow_facts", "flows.definitions"):  # the facts, and the versions' reason codes
        container.runners[name].catch_up()
    return container.flow_statistics, {"A": a, "B": b, "C": c, "D": d, "E": e}


def _pick(rows, *keys):
    return [tuple(r[k] for k in keys) for r in rows]


def test_volume_counts_started_instances_per_business_type_hottest_first(history):
    stats, _ = history
    volume = stats.volume(BROKERAGE)
    assert _pick(volume["rows"], "business_type", "started", "completed", "rejected", "running") == [
        ("tenant_signing", 4, 2, 1, 1), ("vip_signing", 1, 1, 0, 0)]
    assert _pick([volume["total"]], "started", "completed", "rejected", "withdrawn", "running") == [(5, 3, 1, 0, 1)]
    by_day = stats.volume(BROKERAGE, "day")["rows"]
    assert _pick(by_day, "period", "business_type", "started") == [
        ("2026-03-02", "tenant_signing", 1), ("2026-03-03", "tenant_signing", 2),
        ("2026-03-04", "tenant_signing", 1), ("2026-03-04", "vip_signing", 1)]
    assert _pick(stats.volume(BROKERAGE, "week")["rows"], "period", "started") == [
        ("2026-03-02", 4), ("2026-03-02", 1)]


def test_slow_businesses_and_nodes_take_exact_percentiles_of_working_time(history):
    stats, _ = history
    slow = stats.slow(BROKERAGE)["rows"]
    assert _pick(slow, "business_type", "ended", "avg_working_seconds", "p50_working_seconds",
                 "p90_working_seconds", "p90_wall_seconds") == [
        ("tenant_signing", 3, 4200.0, 1800.0, 9000.0, 9000.0), ("vip_signing", 1, 1800.0, 1800.0, 1800.0, 1800.0)]
    nodes = stats.slow_nodes(BROKERAGE)["rows"]
    assert _pick(nodes, "definition_key", "node", "visits", "avg_working_seconds", "p50_working_seconds",
                 "p90_working_seconds") == [
        ("review", "check", 3, 2000.0, 1800.0, 3600.0), ("review", "review", 5, 3840.0, 1800.0, 12600.0),
        ("vip", "check", 1, 1200.0, 1200.0, 1200.0), ("vip", "review", 1, 600.0, 600.0, 600.0)]


def test_percentiles_match_a_recompute_from_the_visit_facts(history):
    stats, _ = history
    ch = stats.ch
    working = sorted(w for (w,) in ch.query(
        f"SELECT working_seconds FROM {ch.db}.flow_visit_facts FINAL WHERE definition_key = 'review'"
        " AND node = 'review' AND left_at IS NOT NULL AND outcome != 'cancelled'"))
    (row,) = [r for r in stats.slow_nodes(BROKERAGE)["rows"] if (r["definition_key"], r["node"]) == ("review", "review")]
    for q in (50, 90):
        assert row[f"p{q}_working_seconds"] == working[min(int(q / 100 * len(working)), len(working) - 1)]


def test_sla_attainment_per_node_department_and_handler(history):
    stats, _ = history
    t = stats.timeliness(BROKERAGE)
    assert _pick(t["by_node"], "definition_key", "node", "with_sla", "met", "breached", "rate") == [
        ("review", "review", 5, 4, 1, 0.8), ("vip", "review", 1, 1, 0, 1.0)]
    assert _pick(t["by_handler"], "handler", "with_sla", "met", "rate") == [
        ("operator:olga", 5, 4, 0.8), ("operator:oscar", 1, 1, 1.0)]
    assert _pick(t["by_department"], "with_sla", "met", "rate") == [(6, 5, 0.8333)]
    assert _pick([t["total"]], "with_sla", "met", "breached", "rate") == [(6, 5, 1, 0.8333)]


def test_first_pass_rate_counts_completed_instances_never_returned(history):
    stats, _ = history
    fp = stats.first_pass(BROKERAGE)
    assert _pick(fp["rows"], "business_type", "completed", "first_pass", "rate") == [
        ("tenant_signing", 2, 1, 0.5), ("vip_signing", 1, 1, 1.0)]
    assert _pick([fp["total"]], "completed", "first_pass", "rate") == [(3, 2, 0.6667)]


def test_rejections_and_returns_are_marked_counted_by_the_flow_versions_reason_codes(history):
    stats, _ = history
    r = stats.rejections(BROKERAGE)
    assert _pick(r["rows"], "definition_key", "definition_version", "node", "handler", "reason_code", "rejections",
                 "returns", "counted") == [
        ("review", 1, "check", "operator:clara", "DATA_INCOMPLETE", 0, 1, True),
        ("review", 1, "review", "operator:olga", "CUSTOMER_REQUEST", 1, 0, False)]
    assert _pick(r["by_reason"], "reason_code", "rejections", "returns", "counted") == [
        ("CUSTOMER_REQUEST", 1, 0, False), ("DATA_INCOMPLETE", 0, 1, True)]
    assert _pick([r["total"]], "rejections", "returns") == [(1, 1)]


def test_handlers_are_ranked_by_decisions_with_average_handling_times(history):
    stats, _ = history
    assert _pick(stats.handlers(BROKERAGE)["rows"], "handler", "decisions", "approved", "rejected", "returned",
                 "avg_handling_working_seconds", "avg_handling_seconds") == [
        ("operator:olga", 5, 4, 1, 0, 3600.0, 4320.0), ("operator:clara", 3, 2, 0, 1, 1800.0, 1800.0),
        ("operator:carl", 1, 1, 0, 0, 1800.0, 1800.0), ("operator:oscar", 1, 1, 0, 0, 1800.0, 1800.0)]


def test_stage_times_per_department_and_the_004_kpi_set(history):
    stats, ids = history
    (stage,) = stats.stages(BROKERAGE)["rows"]
    assert _pick([stage], "visits", "avg_working_seconds", "p50_working_seconds", "avg_wall_seconds") == [
        (10, 2700.0, 1800.0, 3060.0)]
    kpi = stats.kpi("tenant_signing", BROKERAGE)
    assert kpi["cycle"] == {"completed": 2, "avg_working_days": 0.2, "target_days": 5.0, "met": True}
    assert _pick([kpi["first_pass"]], "completed", "first_pass", "rate", "target", "met") == [(2, 1, 0.5, 0.8, False)]
    assert _pick(kpi["stages"], "department_id", "visits", "avg_working_days") == [
        (stage["department_id"], 8, 0.1167)]
    assert _pick(kpi["rejection_reasons"], "reason_code", "rejections", "returns", "counted") == [
        ("CUSTOMER_REQUEST", 1, 0, False), ("DATA_INCOMPLETE", 0, 1, True)]
    hours = stats.working_day_seconds / 3600
    assert hours == 7.5


def test_lines_scope_and_filters_narrow_every_figure(history):
    stats, _ = history
    department = stats.stages(BROKERAGE)["rows"][0]["department_id"]
    elsewhere = StatsFilter(business_lines=["futures"])
    outside = StatsFilter(business_lines=["brokerage"], departments=[str(uuid4())])
    for f in (elsewhere, outside):
        assert stats.volume(f) == {"rows": [], "total": {"started": 0, "completed": 0, "rejected": 0,
                                                         "withdrawn": 0, "terminated": 0, "running": 0}}
        assert stats.handlers(f)["rows"] == [] and stats.timeliness(f)["by_node"] == []
        assert stats.rejections(f)["total"] == {"rejections": 0, "returns": 0}
        assert stats.kpi("tenant_signing", f)["cycle"]["avg_working_days"] is None
    mine = StatsFilter(business_lines=["brokerage"], departments=[department], department=department)
    assert stats.volume(mine)["total"]["started"] == 5
    march_3 = StatsFilter(business_lines=["brokerage"], since=datetime(2026, 3, 3, tzinfo=SH),
                          until=datetime(2026, 3, 4, tzinfo=SH))
    assert stats.volume(march_3)["total"]["started"] == 2
    assert _pick(stats.handlers(march_3)["rows"], "handler", "decisions") == [
        ("operator:olga", 2), ("operator:clara", 1)]
    assert stats.volume(StatsFilter(business_lines=["brokerage"], definition_key="vip"))["total"]["started"] == 1
    with pytest.raises(ValueError):
        StatsFilter(business_lines=[])
