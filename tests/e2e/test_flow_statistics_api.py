"""Flow statistics over HTTP (issue 15, item 2): their own permission, figures only of the caller's
lines and data-scope departments, CSV and XLSX downloads, a backwards range refused."""
from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.e2e.board_firm import PASSWORD, SETUP, ok, start

STATS = "/api/v1/flows/statistics"


def _analysts(firm) -> dict:
    """Analysts with flows.statistics.view: stan (Shanghai), sara (both branches), ivy (another line)."""
    app, client = firm["app"], firm["client"]
    app.access.create_business_line(SETUP, "ib", "IB")
    app.access.create_role(SETUP, "analyst", "analyst", ["flows.statistics.view"])
    dept = firm["dept"]
    for login, lines, scope in (("stan", ["brokerage"], ["SH"]), ("sara", ["brokerage"], ["SH", "BJ"]),
                                ("ivy", ["ib"], ["SH", "BJ"])):
        op = app.access.create_operator(SETUP, login, login, dept["SH"], None, None, PASSWORD).id
        app.access.grant_roles(SETUP, op, ["analyst"])
        app.access.set_business_lines(SETUP, op, lines)
        app.access.set_data_scope(SETUP, op, [{"department_id": dept[d], "include_children": True} for d in scope],
                                  [])
        t = ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": PASSWORD}))
        firm["tokens"][login] = {"Authorization": f"Bearer {t['access_token']}"}
    start(firm, "sam", "上海甲")
    start(firm, "sam", "上海乙")
    return start(firm, "bella", "北京丙")


def _get(firm, who, path, **params):
    return firm["client"].get(f"{STATS}{path}", params=params, headers=firm["tokens"][who])


def test_statistics_need_their_own_permission(firm):
    _analysts(firm)
    for who in ("mona", "sam", "olga"):  # monitors, sellers and handlers do not see statistics
        assert _get(firm, who, "/volume").status_code == 403
        assert _get(firm, who, "/kpi/tenant_signing").status_code == 403


def test_figures_count_only_the_callers_lines_and_departments(firm):
    last = _analysts(firm)
    sara = ok(_get(firm, "sara", "/volume", wait_for_position=last["position"]))
    assert [(r["business_type"], r["started"], r["running"]) for r in sara["rows"]] == [("tenant_signing", 3, 3)]
    stan = ok(_get(firm, "stan", "/volume"))
    assert stan["total"]["started"] == 2
    assert ok(_get(firm, "stan", "/volume", department_id=firm["dept"]["BJ"]))["total"]["started"] == 0
    assert ok(_get(firm, "sara", "/volume", department_id=firm["dept"]["BJ"]))["total"]["started"] == 1
    assert ok(_get(firm, "ivy", "/volume"))["rows"] == []  # another line: nothing of brokerage
    refused = _get(firm, "ivy", "/volume", business_line="brokerage")
    assert refused.status_code == 404 and refused.json()["field"] == "business_line"
    by_day = ok(_get(firm, "sara", "/first-pass", grain="day"))
    assert by_day["total"] == {"completed": 0, "first_pass": 0, "rate": None}
    kpi = ok(_get(firm, "sara", "/kpi/tenant_signing"))
    assert kpi["cycle"]["target_days"] == 5 and kpi["first_pass"]["target"] == 0.8
    for path in ("/slow-businesses", "/slow-nodes", "/timeliness", "/rejections", "/handlers", "/stages"):
        assert _get(firm, "sara", path).status_code == 200, path


def test_statistics_download_as_csv_and_xlsx(firm):
    last = _analysts(firm)
    r = _get(firm, "sara", "/volume", format="csv", wait_for_position=last["position"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(row["table"], row["business_type"], row["started"]) for row in rows] == [
        ("rows", "tenant_signing", "3"), ("total", "", "3")]
    x = _get(firm, "sara", "/timeliness", format="xlsx")
    assert x.status_code == 200 and "spreadsheetml" in x.headers["content-type"]
    book = load_workbook(io.BytesIO(x.content))
    assert book.sheetnames == ["by_node", "by_department", "by_handler", "total"]
    assert [c.value for c in book["total"][1]] == ["with_sla", "met", "breached", "rate"]


def test_a_backwards_range_is_refused(firm):
    _analysts(firm)
    r = _get(firm, "sara", "/volume", since="2026-03-02T00:00:00Z", until="2026-03-01T00:00:00Z")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert _get(firm, "sara", "/volume", since="1960-01-01T00:00:00Z").status_code == 422


def test_a_report_specification_runs_within_the_callers_scope_and_names_outside_the_allow_lists_are_refused(firm):
    last = _analysts(firm)
    spec = {"source": "instances", "dimensions": ["outcome"], "measures": ["count"], "chart": "pie"}
    answer = firm["client"].post(f"{STATS}/reports/run", json=spec, headers=firm["tokens"]["sara"],
                                 params={"wait_for_position": last["position"]})
    assert ok(answer) == {"columns": ["outcome", "count"], "rows": [{"outcome": "running", "count": 3}],
                          "chart": "pie"}
    stan = ok(firm["client"].post(f"{STATS}/reports/run", json=spec, headers=firm["tokens"]["stan"]))
    assert stan["rows"] == [{"outcome": "running", "count": 2}]
    assert ok(firm["client"].post(f"{STATS}/reports/run", json=spec, headers=firm["tokens"]["ivy"]))["rows"] == []
    bad = firm["client"].post(f"{STATS}/reports/run", headers=firm["tokens"]["sara"],
                              json={**spec, "measures": ["sum(wall_seconds)"]})
    assert bad.status_code == 422 and "is not one of" in bad.text
    assert firm["client"].post(f"{STATS}/reports/run", json=spec, headers=firm["tokens"]["sam"]).status_code == 403


def test_a_designer_saves_reports_on_a_cockpit_and_each_viewer_runs_it_in_their_own_scope(firm):
    last = _analysts(firm)
    app, client, tokens = firm["app"], firm["client"], firm["tokens"]
    app.access.create_role(SETUP, "designer", "designer", ["flows.statistics.view", "flows.reports.manage"])
    dora = app.access.create_operator(SETUP, "dora", "dora", firm["dept"]["SH"], None, None, PASSWORD).id
    app.access.grant_roles(SETUP, dora, ["designer"])
    app.access.set_business_lines(SETUP, dora, ["brokerage"])
    t = ok(client.post("/api/v1/auth/login", json={"login_name": "dora", "password": PASSWORD}))
    tokens["dora"] = {"Authorization": f"Bearer {t['access_token']}"}
    by_outcome = {"name": "按状态 By outcome", "spec": {"source": "instances", "dimensions": ["outcome"],
                                                      "measures": ["count"], "chart": "pie"}}
    saved = client.put("/api/v1/flows/reports/by_outcome", json=by_outcome, headers=tokens["dora"])
    assert saved.status_code == 200, saved.text
    assert client.put("/api/v1/flows/reports/by_outcome", json=by_outcome, headers=tokens["sara"]).status_code == 403
    bad = client.put("/api/v1/flows/reports/wrong", headers=tokens["dora"],
                     json={"name": "x", "spec": {"source": "visits", "measures": ["count(*)"]}})
    assert bad.status_code == 422 and "is not one of" in bad.text
    missing = client.put("/api/v1/flows/cockpits/board", headers=tokens["dora"],
                         json={"name": "驾驶舱", "reports": ["by_outcome", "nowhere"]})
    assert missing.status_code == 404
    cockpit = ok(client.put("/api/v1/flows/cockpits/board", headers=tokens["dora"],
                            json={"name": "驾驶舱 Cockpit", "reports": ["by_outcome"]}))
    listed = ok(client.get("/api/v1/flows/cockpits", headers=tokens["sara"],
                           params={"wait_for_position": cockpit["position"]}))
    assert [c["key"] for c in listed["items"]] == ["board"]
    run = ok(client.post("/api/v1/flows/cockpits/board/run", headers=tokens["sara"],
                         params={"wait_for_position": last["position"]}))
    assert run["boards"][0]["result"]["rows"] == [{"outcome": "running", "count": 3}]
    stan = ok(client.post("/api/v1/flows/cockpits/board/run", headers=tokens["stan"]))
    assert stan["boards"][0]["result"]["rows"] == [{"outcome": "running", "count": 2}]
    # A stale save is refused; a deleted report leaves an empty board.
    stale = client.put("/api/v1/flows/reports/by_outcome", json={**by_outcome, "name": "改"},
                       headers={**tokens["dora"], "If-Match": '"0"'})
    assert stale.status_code == 409
    assert client.delete("/api/v1/flows/reports/by_outcome", headers=tokens["dora"]).status_code == 200
    assert ok(client.post("/api/v1/flows/cockpits/board/run", headers=tokens["sara"]))["boards"][0]["result"] is None
    assert client.get("/api/v1/flows/reports/by_outcome", headers=tokens["sara"]).status_code == 404
