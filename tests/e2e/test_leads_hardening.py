"""Attacks on the leads API found against `serve --demo`: each now answers a precise 4xx
problem (or the right result) instead of a 500 or a wrong acceptance — unknown business lines,
positions and dates beyond what the stores hold, a filter rule over a field a row lacks."""
from __future__ import annotations

from tests.e2e.test_leads_api import ADMIN, SETUP, firm, ok  # noqa: F401 - the firm fixture

RULE_ROUTES = ("/api/v1/leads/rules/{line}", "/api/v1/leads/rules/{line}/verify", "/api/v1/leads/settings/{line}",
               "/api/v1/leads/settings/{line}/sensitive-hits")


def _not_found(r):
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "not_found" and r.json()["field"] == "business_line"


def test_lead_rules_and_settings_of_an_unknown_business_line_answer_404(client, firm):  # noqa: F811
    for route in RULE_ROUTES:
        _not_found(client.get(route.format(line="no_such_line"), headers=ADMIN))


def test_lead_settings_and_sensitive_words_are_not_saved_for_an_unknown_business_line(client, firm):  # noqa: F811
    _not_found(client.put("/api/v1/leads/settings/no_such_line", headers=ADMIN, json={"repeat_window_days": 5}))
    _not_found(client.post("/api/v1/leads/settings/no_such_line/sensitive-words", headers=ADMIN,
                           json={"add": ["稳赚"]}))
    _not_found(client.post("/api/v1/leads/settings/no_such_line/blacklist", headers=ADMIN,
                           json={"add": ["13800000000"]}))
    _not_found(client.put("/api/v1/leads/segments/no_such_line/s1", headers=ADMIN, json={"name": "s"}))
    _not_found(client.get("/api/v1/leads/analytics/channels", headers=ADMIN,
                          params={"business_line": "no_such_line"}))
    _not_found(client.post("/api/v1/leads/channels", headers=ADMIN, json={
        "code": "ghost", "name": "ghost", "channel_type": "tonghuashun", "promotion_type": "同花顺",
        "business_line": "no_such_line", "department_id": firm["online"]}))


def test_a_known_line_without_rules_or_settings_answers_an_empty_rule_book_and_the_defaults(
        client, live_container, firm):  # noqa: F811
    live_container.access.create_business_line(SETUP, "futures_ib", "IB")
    book = ok(client.get("/api/v1/leads/rules/futures_ib", headers=ADMIN))
    assert book == {"rules": [], "recycle_rules": [], "counters": {}, "allocations": 0}
    settings = ok(client.get("/api/v1/leads/settings/futures_ib", headers=ADMIN))
    assert settings == {"repeat_window_days": 3, "filter_rules": [], "attribution_mode": "time",
                        "sensitive_mode": "block", "blacklist_size": 0, "sensitive_words": []}
    assert ok(client.get("/api/v1/leads/rules/futures_ib/verify", headers=ADMIN)) == {
        "checked": 0, "mismatches": [], "ok": True}
    # reading stored nothing: a configured line still answers what it saved
    ok(client.put("/api/v1/leads/settings/futures_ib", headers=ADMIN, json={"repeat_window_days": 7}))
    assert ok(client.get("/api/v1/leads/settings/futures_ib", headers=ADMIN))["repeat_window_days"] == 7


def test_positions_beyond_bigint_on_the_timeline_and_the_sensitive_hits_answer_422(client, firm):  # noqa: F811
    lead = ok(client.post("/api/v1/leads/intake", headers={"X-Channel-Token": firm["token"]},
                          json={"leads": [{"phone": "13812349001"}]}))["results"][0]["lead_id"]
    for before in ("1e20", str(2**63), str(10**30), "-1", "0"):
        timeline = client.get(f"/api/v1/leads/{lead}", headers=ADMIN, params={"before": before})
        assert timeline.status_code == 422 and timeline.json()["field"] == "before", (before, timeline.text)
        hits = client.get("/api/v1/leads/settings/brokerage/sensitive-hits", headers=ADMIN, params={"before": before})
        assert hits.status_code == 422 and hits.json()["field"] == "before", (before, hits.text)
    assert ok(client.get(f"/api/v1/leads/{lead}", headers=ADMIN, params={"before": str(2**63 - 1)}))["lead"]
    assert ok(client.get("/api/v1/leads/settings/brokerage/sensitive-hits", headers=ADMIN,
                         params={"before": str(2**63 - 1)}))["items"] == []


def test_lead_analytics_dates_beyond_what_clickhouse_holds_or_reversed_answer_422_naming_the_field(
        client, firm):  # noqa: F811
    for route in ("/api/v1/leads/analytics/channels", "/api/v1/leads/analytics/employees"):
        for field, value in (("since", "0001-01-01T00:00:00Z"), ("until", "9999-12-31T00:00:00Z"),
                             ("since", "1969-12-31T23:59:59Z"), ("until", "2106-01-01T00:00:00Z")):
            r = client.get(route, headers=ADMIN, params={"business_line": "brokerage", field: value})
            assert r.status_code == 422 and r.json()["field"] == field, (route, field, value, r.text)
        reversed_ = client.get(route, headers=ADMIN, params={
            "business_line": "brokerage", "since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"})
        assert reversed_.status_code == 422 and reversed_.json()["field"] == "since", reversed_.text
        ok(client.get(route, headers=ADMIN, params={"business_line": "brokerage", "since": "1970-01-01T00:00:00Z",
                                                   "until": "2105-12-31T00:00:00Z"}))
    listed = client.get("/api/v1/leads", headers=ADMIN, params={"since": "0001-01-01T00:00:00Z"})
    assert listed.status_code == 422 and listed.json()["field"] == "since"


def test_a_filter_rule_over_a_field_a_row_lacks_does_not_hold_and_the_batch_goes_on(client, firm):  # noqa: F811
    ok(client.put("/api/v1/leads/settings/brokerage", headers=ADMIN, json={
        "filter_rules": [{"name": "campaign", "expression": 'fields.campaign == "test"'}]}))
    out = ok(client.post("/api/v1/leads/intake", headers={"X-Channel-Token": firm["token"]}, json={"leads": [
        {"phone": "13812349101"}, {"phone": "13812349102", "fields": {"campaign": "test"}},
        {"phone": "13812349103", "fields": {"campaign": "spring"}}]}))
    rows = out["results"]
    assert [(r["status"], r["reason"]) for r in rows] == [("valid", None), ("filtered", "rule:campaign"),
                                                           ("valid", None)]
    assert rows[0]["rule_errors"] == [{"rule": "campaign", "error": "KeyError: 'campaign'"}]
    assert "rule_errors" not in rows[1] and "rule_errors" not in rows[2]
    # recorded on the lead's timeline too, like a flow's failing branch condition
    detail = ok(client.get(f"/api/v1/leads/{rows[0]['lead_id']}", headers=ADMIN,
                           params={"wait_for_position": out["position"]}))
    assert detail["timeline"][0]["detail"]["rule_errors"][0]["rule"] == "campaign"
