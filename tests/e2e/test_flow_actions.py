"""The compliance actions over HTTP (issue item 5): take back, remove an added signer, an
administrator's jump and reason codes — with the permission each route requires and the
answers of their refusals (tests/integration/test_flow_actions.py covers the rules in depth)."""
from __future__ import annotations

from tests.e2e.board_firm import ADMIN, get, ok, start

FLOWS = "/api/v1/flows"


def _task(firm, who: str, instance: dict, position: int) -> str:
    return next(t for t in get(firm, who, f"{FLOWS}/todo", position)["items"]
                if t["instance_id"] == instance["id"])["task_id"]


def _post(firm, who: str, path: str, body: dict):
    return firm["client"].post(f"{FLOWS}{path}", json=body, headers=firm["tokens"].get(who, ADMIN))


def _timeline(firm, instance: dict, position: int, kind: str) -> list[dict]:
    items = get(firm, "max", f"{FLOWS}/instances/{instance['id']}/timeline", position, limit=200)["items"]
    return [e for e in items if e["kind"] == kind]


def test_the_approver_takes_a_task_back_over_http_and_a_second_take_back_is_already_acted(firm):
    a = start(firm, "sam", "拿回", name="甲公司")
    entry = _task(firm, "olga", a, a["position"])
    pos = ok(_post(firm, "olga", f"/instances/{a['id']}/tasks/{entry}/approve", {}))["position"]
    review = _task(firm, "olga", a, pos)
    path = f"/instances/{a['id']}/tasks/{entry}/take-back"
    assert _post(firm, "mona", path, {}).status_code == 403          # no flows.tasks.handle
    assert _post(firm, "sam", path, {}).status_code == 403           # did not approve it
    pos = ok(_post(firm, "olga", path, {"comment": "再看看"}))["position"]
    (line,) = _timeline(firm, a, pos, "taken_back")
    assert (line["node"], line["task_id"], line["actor"], line["comment"], line["detail"]) == (
        "ops_entry", entry, "operator:olga", "再看看", {"cancelled": [review]})
    again = _post(firm, "olga", path, {})
    assert again.status_code == 409 and again.json()["code"] == "already_acted"


def test_a_handler_removes_the_signer_they_added_over_http(firm):
    a = start(firm, "sam", "减签", name="甲公司")
    task = _task(firm, "olga", a, a["position"])
    ok(_post(firm, "olga", f"/instances/{a['id']}/tasks/{task}/signers",
             {"signer": "operator:bella", "position": "before"}))
    path = f"{FLOWS}/instances/{a['id']}/tasks/{task}/signers/operator:bella"
    assert firm["client"].delete(path, headers=firm["tokens"]["mona"]).status_code == 403
    pos = ok(firm["client"].delete(path, headers=firm["tokens"]["olga"]))["position"]
    (line,) = _timeline(firm, a, pos, "signer_removed")
    assert (line["task_id"], line["actor"], line["detail"]) == (
        task, "operator:olga", {"signer": "operator:bella", "position": "before"})
    gone = firm["client"].delete(path, headers=firm["tokens"]["olga"])
    assert gone.status_code == 422 and gone.json()["field"] == "signer"
    ok(_post(firm, "olga", f"/instances/{a['id']}/tasks/{task}/signers",
             {"signer": "operator:bella", "position": "before"}))
    pos = ok(_post(firm, "olga", f"/instances/{a['id']}/tasks/{task}/signers/remove",
                   {"signer": "operator:bella", "comment": "不必了"}))["position"]
    assert [e["comment"] for e in _timeline(firm, a, pos, "signer_removed")] == [None, "不必了"]


def test_only_an_administrator_jumps_a_flow_and_never_to_an_end(firm):
    a = start(firm, "sam", "跳转", name="甲公司")
    path = f"/instances/{a['id']}/jump"
    assert _post(firm, "olga", path, {"target": "ops_review", "reason": "x"}).status_code == 403
    refused = _post(firm, "admin", path, {"target": "end", "reason": "直接结束"})
    assert refused.status_code == 422 and refused.json()["field"] == "target"
    assert _post(firm, "admin", path, {"target": "ops_review"}).status_code == 422  # a reason is required
    pos = ok(_post(firm, "admin", path, {"target": "ops_review", "reason": "录入已线下完成"}))["position"]
    (line,) = _timeline(firm, a, pos, "jumped")
    assert (line["node"], line["comment"], line["detail"]["from"], line["detail"]["target"]) == (
        "ops_review", "录入已线下完成", ["ops_entry"], "ops_review")
    assert get(firm, "max", f"{FLOWS}/instances/{a['id']}", pos)["current_nodes"] == ["ops_review"]


def test_a_reason_code_outside_the_catalogue_is_422_over_http(firm):
    a = start(firm, "sam", "原因码", name="甲公司")
    task = _task(firm, "olga", a, a["position"])
    refused = _post(firm, "olga", f"/instances/{a['id']}/tasks/{task}/reject",
                    {"comment": "x", "reason_code": "RATE_WRONG"})
    assert refused.status_code == 422 and refused.json()["field"] == "reason_code"
    refused = _post(firm, "olga", f"/instances/{a['id']}/tasks/{task}/return",
                    {"target": "start", "comment": "x", "reason_code": "RATE_WRONG"})
    assert refused.status_code == 422 and refused.json()["field"] == "reason_code"


def test_claiming_over_http_needs_a_pool_and_the_handle_permission(firm):
    a = start(firm, "sam", "认领", name="甲公司")
    task = _task(firm, "olga", a, a["position"])
    path = f"/instances/{a['id']}/tasks/{task}/claim"
    assert _post(firm, "mona", path, {}).status_code == 403
    alone = _post(firm, "olga", path, {})  # olga is the only ops operator here: no pool to claim from
    assert alone.status_code == 422 and alone.json()["field"] == "task_id"


def test_a_cc_recipient_marks_the_copy_read_over_http(firm):
    a = start(firm, "sam", "抄送", name="甲公司")
    ok(_post(firm, "sam", f"/instances/{a['id']}/cc", {"to": ["operator:olga"], "note": "知悉"}))
    path = f"/instances/{a['id']}/cc/read"
    assert _post(firm, "mona", path, {}).status_code == 403  # nothing was copied to mona
    pos = ok(_post(firm, "olga", path, {}))["position"]
    (row,) = get(firm, "olga", f"{FLOWS}/copied", pos)["items"]
    assert row["read_at"] is not None
    again = _post(firm, "olga", path, {})
    assert again.status_code == 409 and again.json()["code"] == "already_read"
