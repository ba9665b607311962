"""The monitoring board (流程监控, 004 §7.1 流程看板) through the HTTP API: find instances without
their id, within your lines and data scope; filters, sorts, keyset paging, counts per node and
per department, and a CSV export that a spreadsheet cannot run."""
from __future__ import annotations

import csv
import io

from tests.e2e.board_firm import get, ok, start, walk

BOARD = "/api/v1/flows/instances"


def _titles(items: list[dict]) -> list[str]:
    return [i["title"] for i in items]


def _three(firm):
    a = start(firm, "sam", "上海甲", name="甲公司")
    b = start(firm, "sam", "上海乙", name="乙公司", fund_account="88009999")
    c = start(firm, "bella", "北京丙", name="丙公司")
    return a, b, c


def test_a_shanghai_monitor_never_sees_beijing_instances(firm):
    a, b, c = _three(firm)
    mona = get(firm, "mona", BOARD, c["position"])
    assert sorted(_titles(mona["items"])) == ["上海乙", "上海甲"]
    assert get(firm, "mona", BOARD, department=firm["dept"]["BJ"])["items"] == []
    assert sorted(_titles(get(firm, "max", BOARD)["items"])) == ["上海乙", "上海甲", "北京丙"]
    board = get(firm, "mona", f"{BOARD}/board")
    assert [d["department_id"] for d in board["by_department"]] == [firm["dept"]["SH"]]
    assert board["total"]["count"] == 2
    assert firm["client"].get(f"{BOARD}/export", headers=firm["tokens"]["mona"]).text.count("北京丙") == 0


def test_monitoring_needs_its_own_permission(firm):
    assert firm["client"].get(BOARD, headers=firm["tokens"]["sam"]).status_code == 403
    assert firm["client"].get(f"{BOARD}/board", headers=firm["tokens"]["olga"]).status_code == 403
    assert firm["client"].get(f"{BOARD}/export", headers=firm["tokens"]["bella"]).status_code == 403


def test_filters_narrow_the_board(firm):
    a, b, c = _three(firm)
    pos = c["position"]
    assert _titles(get(firm, "max", BOARD, pos, initiator="operator:bella")["items"]) == ["北京丙"]
    assert _titles(get(firm, "max", BOARD, keyword="88009999")["items"]) == ["上海乙"]  # fund account
    assert _titles(get(firm, "max", BOARD, keyword="丙公司")["items"]) == ["北京丙"]  # a summary field
    assert _titles(get(firm, "max", BOARD, keyword="上海甲")["items"]) == ["上海甲"]  # the title
    assert len(get(firm, "max", BOARD, node="ops_entry", status="running", business_type="tenant_signing",
                   definition="tenant_signing", version=1)["items"]) == 3
    assert get(firm, "max", BOARD, node="finance_review")["items"] == []
    assert len(get(firm, "max", BOARD, handler="operator:olga")["items"]) == 3
    assert get(firm, "max", BOARD, handler="operator:sam")["items"] == []
    assert get(firm, "max", BOARD, status="completed")["items"] == []
    assert get(firm, "max", BOARD, overdue=True)["items"] == []
    started = get(firm, "max", f"/api/v1/flows/instances/{a['id']}")["started_at"]
    assert _titles(get(firm, "max", BOARD, started_to=started)["items"]) == []
    assert "上海甲" in _titles(get(firm, "max", BOARD, started_from=started)["items"])

    # urge a task: the instance is urgent, and updated last
    task = get(firm, "olga", "/api/v1/flows/todo", keyword="乙公司")["items"][0]
    urged = ok(firm["client"].post(f"/api/v1/flows/instances/{b['id']}/tasks/{task['task_id']}/urge",
                                   headers=firm["tokens"]["sam"]))
    assert _titles(get(firm, "max", BOARD, urged["position"], urgent=True)["items"]) == ["上海乙"]
    assert len(get(firm, "max", BOARD, sort="sla_due")["items"]) == 3


def test_rows_carry_node_names_handlers_and_summaries_through_the_field_rules(firm):
    a = start(firm, "sam", "上海甲", name="甲公司", phone="13900001111")
    (row,) = get(firm, "max", BOARD, a["position"])["items"]
    assert row["current_nodes"] == ["ops_entry"] and row["current_node_names"] == ["运营录入 OPS entry"]
    assert row["handlers"] == ["operator:olga"] and row["overdue"] is False and row["ended_at"] is None
    assert row["summary"] == {"basic.tenant_name_cn": "甲公司", "basic.contact_phone": "139****1111",
                              "commercial.term_months": 12}
    mine = get(firm, "sam", "/api/v1/flows/initiated")["items"][0]
    assert mine["summary"]["basic.contact_phone"] == "13900001111"  # the rule masks it for monitors only


def test_the_board_pages_with_limit_and_cursor(firm):
    *_, last = _three(firm)
    for sort in ("started", "updated", "sla_due"):
        walked = walk(firm, "max", BOARD, last["position"], sort=sort)
        assert sorted(_titles(walked)) == ["上海乙", "上海甲", "北京丙"], sort
    assert _titles(walk(firm, "max", BOARD)) == ["北京丙", "上海乙", "上海甲"]  # newest first
    bad = firm["client"].get(BOARD, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=firm["tokens"]["max"])
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"


def test_the_board_counts_per_current_node_and_per_department(firm):
    a, b, c = _three(firm)
    task = get(firm, "olga", "/api/v1/flows/todo", c["position"], keyword="甲公司")["items"][0]
    moved = ok(firm["client"].post(f"/api/v1/flows/instances/{a['id']}/tasks/{task['task_id']}/approve",
                                   json={}, headers=firm["tokens"]["olga"]))
    board = get(firm, "max", f"{BOARD}/board", moved["position"])
    assert {(n["node"], n["node_name"], n["count"]) for n in board["by_node"]} == {
        ("ops_entry", "运营录入 OPS entry", 2), ("ops_review", "运营审核 OPS review", 1)}
    assert {(d["department_name"], d["count"], d["overdue"]) for d in board["by_department"]} == {
        ("上海营业部", 2, 0), ("北京营业部", 1, 0)}
    assert board["total"] == {"count": 3, "overdue": 0, "urgent": 0}
    narrowed = get(firm, "max", f"{BOARD}/board", node="ops_review")
    assert narrowed["total"]["count"] == 1
    assert _titles(get(firm, "max", BOARD, sort="updated")["items"])[0] == "上海甲"  # acted on last


def test_the_csv_export_neutralises_formulas_and_applies_field_rules(firm):
    started = start(firm, "sam", "=HYPERLINK(\"http://evil\")", name="+甲公司", phone="13900001111")
    get(firm, "max", BOARD, started["position"])
    r = firm["client"].get(f"{BOARD}/export", headers=firm["tokens"]["max"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    (row,) = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert row["title"].startswith("'=") and row["summary:basic.tenant_name_cn"] == "'+甲公司"
    assert row["summary:basic.contact_phone"] == "139****1111" and "13900001111" not in r.text
    assert row["current_node_names"] == "运营录入 OPS entry" and row["handlers"] == "operator:olga"
    assert firm["client"].get(f"{BOARD}/export", params={"status": "completed"},
                              headers=firm["tokens"]["max"]).text.count("\n") == 1  # the header only
