"""Every flow list pages the same way ({items, next_cursor}, limit + cursor); todo rows carry
node names and summaries, sort by SLA due and urgency and filter by keyword; an instance's
form edits read as a diff through the field rules; the timeline names node and task."""
from __future__ import annotations

import copy

from tests.e2e.board_firm import ADMIN, base, get, ok, start, walk

FLOWS = "/api/v1/flows"


def _approve(firm, who: str, instance: dict, position: int) -> int:
    task = next(t for t in get(firm, who, f"{FLOWS}/todo", position)["items"] if t["instance_id"] == instance["id"])
    return ok(firm["client"].post(f"{FLOWS}/instances/{instance['id']}/tasks/{task['task_id']}/approve", json={},
                                  headers=firm["tokens"][who]))["position"]


def test_every_list_pages_with_limit_one_then_next_cursor(firm):
    a = start(firm, "sam", "甲", name="甲公司")
    b = start(firm, "sam", "乙", name="乙公司")
    pos = _approve(firm, "olga", a, b["position"])
    pos = _approve(firm, "olga", b, pos)
    for instance in (a, b):
        pos = ok(firm["client"].post(f"{FLOWS}/instances/{instance['id']}/cc", json={"to": ["operator:olga"]},
                                     headers=firm["tokens"]["sam"]))["position"]
    assert [i["title"] for i in walk(firm, "sam", f"{FLOWS}/initiated", pos)] == ["乙", "甲"]
    assert len(walk(firm, "olga", f"{FLOWS}/done", pos)) == 2
    assert [i["title"] for i in walk(firm, "olga", f"{FLOWS}/copied", pos)] == ["乙", "甲"]
    assert len(walk(firm, "olga", f"{FLOWS}/todo", pos)) == 2
    assert [d["key"] for d in walk(firm, "max", f"{FLOWS}/definitions")] == ["tenant_signing"]
    assert [t["code"] for t in walk(firm, "max", "/api/v1/forms/business-types")] == ["tenant_signing"]
    timeline = walk(firm, "max", f"{FLOWS}/instances/{a['id']}/timeline", pos)
    assert [e["seq"] for e in timeline] == sorted(e["seq"] for e in timeline) and timeline[0]["kind"] == "started"
    detail = get(firm, "max", f"{FLOWS}/instances/{a['id']}")
    assert [e["seq"] for e in detail["timeline"]] == [e["seq"] for e in timeline]
    trail = walk(firm, "max", f"/api/v1/audit/aggregates/{a['id']}/trail")
    assert [e["version"] for e in trail] == list(range(1, len(trail) + 1)) and len(trail) > 3
    limited = get(firm, "olga", f"{FLOWS}/done", limit=1)
    assert len(limited["items"]) == 1 and limited["next_cursor"]


def test_todo_rows_carry_node_names_and_summaries_sort_by_urgency_and_filter_by_keyword(firm):
    a = start(firm, "sam", "甲", name="甲公司", phone="13900001111")
    b = start(firm, "bella", "乙", name="乙公司")
    todo = get(firm, "olga", f"{FLOWS}/todo", b["position"])
    assert {(t["title"], t["node_name"]) for t in todo["items"]} == {("甲", "运营录入 OPS entry"),
                                                                    ("乙", "运营录入 OPS entry")}
    row = next(t for t in todo["items"] if t["title"] == "甲")
    assert row["summary"] == {"basic.tenant_name_cn": "甲公司", "basic.contact_phone": "13900001111",
                              "commercial.term_months": 12}  # the phone rule masks it for monitors only
    assert [t["title"] for t in get(firm, "olga", f"{FLOWS}/todo", keyword="乙公司")["items"]] == ["乙"]
    assert get(firm, "olga", f"{FLOWS}/todo", keyword="nothing-like-it")["items"] == []
    urged = ok(firm["client"].post(f"{FLOWS}/instances/{a['id']}/tasks/{row['task_id']}/urge",
                                   headers=firm["tokens"]["sam"]))
    by_urgency = get(firm, "olga", f"{FLOWS}/todo", urged["position"], sort="urgency")["items"]
    assert [t["title"] for t in by_urgency] == ["甲", "乙"] and by_urgency[0]["urgent"]
    assert [t["title"] for t in walk(firm, "olga", f"{FLOWS}/todo", sort="urgency")] == ["甲", "乙"]
    assert len(walk(firm, "olga", f"{FLOWS}/todo", sort="sla_due")) == 2


def test_form_edits_read_as_a_diff_through_the_field_rules(firm):
    a = start(firm, "sam", "甲", name="甲公司", phone="13900001111")
    task = get(firm, "olga", f"{FLOWS}/todo", a["position"])["items"][0]
    edited = base(name="甲公司(更正)", phone="13900002222")
    edited["basic"]["registered_address"] = "上海市浦东新区"
    pos = ok(firm["client"].put(f"{FLOWS}/instances/{a['id']}/tasks/{task['task_id']}/form",
                                json={"data": edited}, headers=firm["tokens"]["olga"]))["position"]
    changes = get(firm, "max", f"{FLOWS}/instances/{a['id']}/changes", pos)
    by_path = {c["path"]: c for c in changes["items"]}
    assert by_path["basic.tenant_name_cn"]["kind"] == "changed"
    assert (by_path["basic.tenant_name_cn"]["old_value"], by_path["basic.tenant_name_cn"]["new_value"]) == (
        "甲公司", "甲公司(更正)")
    assert by_path["basic.registered_address"]["kind"] == "added"
    assert by_path["basic.registered_address"]["new_value"] == "上海市浦东新区"
    phone = by_path["basic.contact_phone"]  # masked for the monitor by the field rule
    assert (phone["old_value"], phone["new_value"]) == ("139****1111", "139****2222")
    edit = by_path["basic.tenant_name_cn"]
    assert (edit["node"], edit["task_id"], edit["actor"]) == ("ops_entry", task["task_id"], "operator:olga")
    clear = {c["path"]: c for c in get(firm, "sam", f"{FLOWS}/instances/{a['id']}/changes")["items"]}
    assert clear["basic.contact_phone"]["new_value"] == "13900002222"  # the rule is the monitors' only
    paged = walk(firm, "max", f"{FLOWS}/instances/{a['id']}/changes")
    assert [c["path"] for c in paged] == [c["path"] for c in changes["items"]]
    hidden = firm["client"].get(f"{FLOWS}/instances/{a['id']}/changes", headers=firm["tokens"]["bella"])
    assert hidden.status_code == 404  # a Beijing seller does not see a Shanghai instance


def test_sub_table_rows_are_matched_by_id_in_the_diff(firm):
    a = start(firm, "sam", "甲", name="甲公司")
    rows = base()
    rows["rates"] = {"fee_items": [{"id": "r1", "product": "VCC", "item": "开卡费", "percent": 0.1},
                                   {"id": "r2", "product": "VCC", "item": "交易手续费", "percent": 0.2}]}
    swapped = copy.deepcopy(rows)
    swapped["rates"]["fee_items"] = [dict(rows["rates"]["fee_items"][1], percent=0.3)]  # r1 removed, r2 changed
    pos = a["position"]
    for data in (rows, swapped):  # an administrator's edits (monitoring), recorded at a node
        etag = firm["client"].get(f"{FLOWS}/instances/{a['id']}", params={"wait_for_position": pos},
                                  headers=ADMIN).headers["ETag"]
        pos = ok(firm["client"].post(f"{FLOWS}/instances/{a['id']}/form", json={"node": "clearing_entry",
                                                                              "data": data, "reason": "费率表更正"},
                                     headers={**ADMIN, "If-Match": etag}))["position"]
    items = get(firm, "max", f"{FLOWS}/instances/{a['id']}/changes", pos)["items"]
    last = max(c["version"] for c in items)
    assert sorted((c["kind"], c["path"]) for c in items if c["version"] == last) == [
        ("changed", "rates.fee_items[id=r2].percent"), ("removed", "rates.fee_items[id=r1]")]
    assert {c["node"] for c in items} == {"clearing_entry"} and {c["task_id"] for c in items} == {None}


def test_the_timeline_names_node_and_task_on_approvals_form_edits_and_returns(firm):
    a = start(firm, "sam", "甲", name="甲公司")
    task = get(firm, "olga", f"{FLOWS}/todo", a["position"])["items"][0]
    pos = ok(firm["client"].put(f"{FLOWS}/instances/{a['id']}/tasks/{task['task_id']}/form",
                                json={"data": base(name="甲公司(更正)")}, headers=firm["tokens"]["olga"]))["position"]
    pos = _approve(firm, "olga", a, pos)
    review = get(firm, "olga", f"{FLOWS}/todo", pos)["items"][0]
    pos = ok(firm["client"].post(f"{FLOWS}/instances/{a['id']}/tasks/{review['task_id']}/return",
                                 json={"target": "ops_entry", "comment": "证照不清晰"},
                                 headers=firm["tokens"]["olga"]))["position"]
    timeline = get(firm, "max", f"{FLOWS}/instances/{a['id']}/timeline", pos, limit=200)["items"]
    edited = next(e for e in timeline if e["kind"] == "form_edited")
    assert (edited["node"], edited["task_id"]) == ("ops_entry", task["task_id"])
    approved = next(e for e in timeline if e["kind"] == "approved")
    assert (approved["node"], approved["task_id"]) == ("ops_entry", task["task_id"])
    returned = next(e for e in timeline if e["kind"] == "returned")
    assert (returned["node"], returned["task_id"]) == ("ops_review", review["task_id"])
    assert returned["detail"] == {"origin": "ops_review", "target": "ops_entry"}
    assert all(e["node"] for e in timeline if e["task_id"])  # every task entry names its node
