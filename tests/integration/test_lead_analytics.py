"""Conversion analytics in ClickHouse: every figure equals the same figure computed here,
independently, from what the test generated."""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from domain.leads.allocation import RuleConfig
from domain.shared.context import CommandContext
from tests.integration.test_leads import ADMIN, AGENT, LINE, firm  # noqa: F401 - the firm fixture
from tests.integration.test_leads import employee as lead_employee

TZ = ZoneInfo("Asia/Shanghai")
EMPLOYEES = ["operator:ann", "operator:bob", "operator:cat"]
CHANNELS = ["huawei", "xiaomi", "vivo"]


def bucket(at: datetime, granularity: str) -> str:
    d = at.astimezone(TZ).date()
    if granularity == "week":
        d = d - timedelta(days=d.weekday())
    elif granularity == "month":
        d = date(d.year, d.month, 1)
    return d.isoformat()


def test_channel_and_employee_figures_equal_an_independent_count(container):
    access, leads = container.access, container.leads
    clock = {"now": datetime(2026, 10, 28, 1, 0, tzinfo=timezone.utc)}
    leads.clock = lambda: clock["now"]
    access.create_business_line(ADMIN, LINE, "Brokerage")
    online = str(access.create_department(ADMIN, "online", "网金部", "online_finance", None).id)
    access.create_role(ADMIN, AGENT, "客户经理", ["leads.view", "leads.work"])
    for e in EMPLOYEES:
        lead_employee(access, e.split(":")[1], online)
    for code in CHANNELS:
        leads.create_channel(ADMIN, code, f"{code}应用商店", f"app_store_{code}", "应用市场", LINE, online)
    leads.save_rule(ADMIN, LINE, RuleConfig(key="rr", name="rr", owner_department=online, strategy="round_robin",
                                            members=[{"id": e} for e in EMPLOYEES]))
    rng = random.Random(11)
    facts: list[tuple[datetime, str, str, str, str]] = []  # (at, channel, employee, lead, fact)
    closed: set[str] = set()
    n = 0
    for day in range(12):  # crosses a week and a month boundary
        for channel in CHANNELS:
            clock["now"] = datetime(2026, 10, 28, 1, tzinfo=timezone.utc) + timedelta(days=day, hours=rng.randint(0, 20))
            rows = [{"phone": f"139{n + i:08d}"} for i in range(rng.randint(2, 6))]
            n += len(rows)
            intake_at = clock["now"]
            out = leads.intake(ADMIN, channel, rows, "api")["results"]
            for r in out:
                facts.append((intake_at, channel, r["owner"], r["lead_id"], "valid"))
                lid = leads.lead_for(LINE, r["phone"])
                who = CommandContext(r["owner"], "work")
                clock["now"] += timedelta(hours=rng.randint(1, 30))
                if rng.random() < 0.5:
                    leads.add_wechat(who, lid, None)
                    facts.append((clock["now"], channel, r["owner"], r["lead_id"], "wechat"))
                if rng.random() < 0.6:
                    connected = rng.random() < 0.7
                    leads.record_call(who, lid, clock["now"], rng.randint(0, 300), connected)
                    if connected:
                        facts.append((clock["now"], channel, r["owner"], r["lead_id"], "connected"))
                if rng.random() < 0.5:
                    intent = rng.choice(["none", "has", "strong"])
                    connected = rng.choice([True, False, None])
                    leads.follow_up(who, lid, "跟进", connected, None, intent, None, [])
                    if connected:
                        facts.append((clock["now"], channel, r["owner"], r["lead_id"], "connected"))
                    if intent != "none":
                        facts.append((clock["now"], channel, r["owner"], r["lead_id"], "intent"))
                if rng.random() < 0.3:
                    leads.opening_event(ADMIN, LINE, r["phone"], "opened", clock["now"])
                    facts.append((clock["now"], channel, r["owner"], r["lead_id"], "opened"))
                    if rng.random() < 0.3:
                        leads.opening_event(ADMIN, LINE, r["phone"], "closed", clock["now"] + timedelta(days=1))
                        closed.add(r["lead_id"])
    container.runners["analytics.lead_conversion"].catch_up()

    def expected(keys, granularity):
        sets: dict = defaultdict(lambda: defaultdict(set))
        for at, channel, employee, lead, fact in facts:
            key = tuple({"period": bucket(at, granularity) if granularity else None, "channel_code": channel,
                         "employee": employee}[k] for k in keys)
            sets[key][fact].add(lead)
            if fact == "opened" and lead not in closed:
                sets[key]["opened_net"].add(lead)
        out = {}
        for key, by_fact in sets.items():
            row = {m: len(by_fact[m]) for m in ("valid", "wechat", "connected", "intent", "opened_net", "opened")}
            for m in ("wechat", "connected", "intent", "opened_net", "opened"):
                row[f"{m}_rate"] = round(row[m] / row["valid"], 4) if row["valid"] else None
            out[key] = row
        return out

    analytics = container.lead_analytics
    for granularity in ("day", "week", "month"):
        got = analytics.by_channel(LINE, granularity=granularity)
        assert {(r["period"], r["channel_code"]): {k: v for k, v in r.items() if k not in ("period", "channel_code")}
                for r in got["rows"]} == expected(("period", "channel_code"), granularity)
        emp = analytics.by_employee(LINE, granularity=granularity)
        assert {(r["period"], r["employee"], r["channel_code"]):
                {k: v for k, v in r.items() if k not in ("period", "employee", "channel_code")}
                for r in emp["rows"]} == expected(("period", "employee", "channel_code"), granularity)
    total = analytics.by_channel(LINE)["total"]
    assert total == expected((), None)[()]
    assert total["valid"] == n and total["opened"] > 0 and total["opened_net"] < total["opened"]
    assert analytics.by_channel(LINE, departments=[online])["total"] == total
    assert analytics.by_channel(LINE, departments=["elsewhere"])["rows"] == []
    one = analytics.by_employee(LINE, employee="operator:bob")["all_channels"]
    assert one == [{"employee": "operator:bob", **expected(("employee",), None)[("operator:bob",)]}]


def test_a_customer_filtered_at_intake_as_bound_elsewhere_is_no_opening_of_the_channel(firm):  # noqa: F811
    container, _, deps = firm
    leads = container.leads
    leads.import_bindings(ADMIN, [{"phone": "13900000008", "kind": "branch", "holder": "营业部",
                                   "department_id": deps["branch"], "bound_at": "2026-01-01T00:00:00+00:00"}],
                          "渠道1.0")
    out = leads.intake(ADMIN, "ths", [{"phone": "13900000008"}, {"phone": "13900000001"}], "api")["results"]
    assert [r["status"] for r in out] == ["filtered", "valid"]
    for r, day in zip(out, (20, 23), strict=True):  # the opening system knows both customers
        leads.opening_event(ADMIN, LINE, r["phone"], "opened", datetime(2026, 11, day, 5, tzinfo=timezone.utc))
    container.runners["analytics.lead_conversion"].catch_up()
    figures = container.lead_analytics.by_channel(LINE)
    assert [(r["channel_code"], r["valid"], r["opened"], r["opened_net"]) for r in figures["rows"]] == [
        ("ths", 1, 1, 1)]
    assert figures["total"]["opened_rate"] == 1.0
    by_day = container.lead_analytics.by_channel(LINE, granularity="day")["rows"]
    assert [(r["period"], r["opened"]) for r in by_day] == [("2026-11-23", 1)]  # no row of the filtered one
