"""The flow facts in ClickHouse equal a recomputation from the event store, instance by instance
and visit by visit, over a generated history of more than 2,000 instances of three business types
with returns, rejections, SLA breaches, running instances and the 2026 Spring Festival."""
from __future__ import annotations

from datetime import timezone

import pytest

from domain.shared.aggregate import LedgerAggregate
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


def test_every_instance_and_visit_fact_equals_its_recomputation_from_the_events(generated):
    container, ids = generated
    time = container.calendar.working_time(None)
    expected = {iid: recompute(list(container.flows.events.get(iid)), time) for iid in ids}
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
