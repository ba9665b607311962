"""The flow facts in ClickHouse, and the statistics over them, equal a recomputation from the event
store — instance by instance, visit by visit, figure by figure — over a generated history of more than 2,000 instances of three business types
with returns, rejections, SLA breaches, running instances and the 2026 Spring Festival."""
from __future__ import annotations

from datetime import timezone

import pytest

from domain.shared.aggregate import LedgerAggregate
from projections.analytics.flow_statistics import StatsFilter
from tests.integration.analytics_history import TYPES, generate, publish_types, recompute
from tests.integration.flow_firm import ADMIN

COUNT = 2_100


@pytest.fixture
def generated(engines, firm, monkeypatch):
    if engines.mode != "embedded":  # the figures do not depend on the engines' mode; once is enough
        pytest.skip("the generated history runs on the embedded engines")
    container, clock = firm
    monkeypatch.setattr(LedgerAggregate.Event, "create_timestamp",
                        staticmethod(lambda: clock.now.astimezone(timezone.utc)))
    container.calendar.open_calendar(ADMIN, None, "公司工作日历")
    container.calendar.seed_year(ADMIN, 2026)
    publish_types(container)
    ids = generate(container, clock, COUNT)
    container.runners["analytics.flow_facts"].catch_up()
    return container, ids


def _seconds(value) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def test_every_fact_and_statistic_equals_its_recomputation_from_the_events(generated):
    """One test (the history takes a minute to make): the facts, then the statistics over them."""
    container, ids = generated
    time = container.calendar.working_time(None)
    expected = {iid: recompute(list(container.flows.events.get(iid)), time) for iid in ids}
    _facts_equal(container, ids, expected)
    _statistics_equal(container, expected)


def _facts_equal(container, ids, expected) -> None:
    db, q = container.clickhouse.db, container.clickhouse.query
    instances = {r[0]: r[1:] for r in q(
        "SELECT instance_id, business_type, outcome, started_at, ended_at, wall_seconds, working_seconds, returns,"
        f" rejections, visits, first_pass, sla_met FROM {db}.flow_instance_facts FINAL"
        " WHERE business_type IN {types:Array(String)}", parameters={"types": list(TYPES)})}
    assert set(instances) == set(ids)
    for iid, want in expected.items():
        got = instances[iid]
        assert (got[0], got[1], _seconds(got[2]), _seconds(got[3]), round(got[4], 3), round(got[5], 3), got[6],
                got[7], got[8], bool(got[9]), bool(got[10])) == \
            (want["business_type"], want["outcome"], _seconds(want["started_at"]), _seconds(want["ended_at"]),
             round(want["wall"], 3), round(want["working"], 3), want["returns"], want["rejections"],
             len(want["visits"]), want["first_pass"], want["sla_met"]), iid
    visits = {(r[0], r[1]): r[2:] for r in q(
        "SELECT instance_id, task_id, node, outcome, reason_code, wall_seconds, working_seconds, sla_breached,"
        f" decided_by FROM {db}.flow_visit_facts FINAL WHERE business_type IN {{types:Array(String)}}",
        parameters={"types": list(TYPES)})}
    want_visits = {(iid, task): v for iid, facts in expected.items() for task, v in facts["visits"].items()}
    assert set(visits) == set(want_visits)
    for key, v in want_visits.items():
        assert visits[key] == (v["node"], v["outcome"], v["reason_code"], pytest.approx(v["wall"], abs=1e-3),
                               pytest.approx(v["working"], abs=1e-3), int(v["sla_breached"]), v["decided_by"]), key
    # The history has what the statistics are about.
    outcomes = [f["outcome"] for f in expected.values()]
    assert len(ids) >= 2_000 and {f["business_type"] for f in expected.values()} == set(TYPES)
    assert {"completed", "rejected", "running"} <= set(outcomes)
    assert sum(f["returns"] for f in expected.values()) > 100
    assert sum(not f["sla_met"] for f in expected.values()) > 100
    festive = [v for v in want_visits.values() if v["wall"] > 5 * 86400 and v["working"] < 2 * 86400]
    assert festive, "some visits span the Spring Festival"


def _quantile_exact(values: list[float], level: float) -> float:
    """ClickHouse's quantileExact: the element at position floor(level × n) of the sorted values."""
    ordered = sorted(values)
    return ordered[min(int(level * len(ordered)), len(ordered) - 1)]


def _statistics_equal(container, facts) -> None:
    stats = container.flow_statistics
    scope = StatsFilter(business_lines=["brokerage"])
    # Volume and hot businesses.
    volume = {r["business_type"]: r for r in stats.volume(scope)["rows"]}
    for business_type in TYPES:
        mine = [f for f in facts.values() if f["business_type"] == business_type]
        assert (volume[business_type]["started"], volume[business_type]["completed"],
                volume[business_type]["rejected"], volume[business_type]["running"]) == \
            (len(mine), sum(f["outcome"] == "completed" for f in mine), sum(f["outcome"] == "rejected" for f in mine),
             sum(f["outcome"] == "running" for f in mine)), business_type
    # First-pass rate.
    completed = [f for f in facts.values() if f["outcome"] == "completed"]
    total = stats.first_pass(scope)["total"]
    assert (total["completed"], total["first_pass"]) == (len(completed), sum(f["first_pass"] for f in completed))
    assert total["rate"] == round(sum(f["first_pass"] for f in completed) / len(completed), 4)
    # Slow nodes: closed visits' median and p90 working time per node.
    closed: dict[tuple[str, str], list[float]] = {}
    for f in facts.values():
        for v in f["visits"].values():
            if v["left_at"] is not None and v["outcome"] != "cancelled":
                closed.setdefault((f["business_type"], v["node"]), []).append(v["working"])
    for row in stats.slow_nodes(scope)["rows"]:
        values = closed[(row["definition_key"], row["node"])]
        assert row["visits"] == len(values)
        assert row["p50_working_seconds"] == pytest.approx(_quantile_exact(values, 0.5), abs=1e-3)
        assert row["p90_working_seconds"] == pytest.approx(_quantile_exact(values, 0.9), abs=1e-3)
    assert sum(r["visits"] for r in stats.slow_nodes(scope)["rows"]) == sum(len(v) for v in closed.values())
    # Timeliness: closed visits with an SLA (every visit here has one), met and breached.
    sla = stats.timeliness(scope)["total"]
    all_closed = [v for f in facts.values() for v in f["visits"].values()
                  if v["left_at"] is not None and v["outcome"] != "cancelled"]
    assert (sla["with_sla"], sla["breached"]) == (len(all_closed), sum(v["sla_breached"] for v in all_closed))
    # Handler ranking: decisions per person.
    decided: dict[str, int] = {}
    for f in facts.values():
        for v in f["visits"].values():
            for who in v["decided_by"]:
                decided[who] = decided.get(who, 0) + 1
    assert {r["handler"]: r["decisions"] for r in stats.handlers(scope)["rows"]} == decided
