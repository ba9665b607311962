"""Administrator overrides over HTTP: a flow that requires a second administrator (四眼原则) holds a
jump, form edit, reassign, terminate or department move as a request until another
administrator approves it; and an administrator moves a flow to another owning department
(流程部门调整), which changes who sees it."""
from __future__ import annotations

import pytest

from tests.e2e import board_firm
from tests.e2e.board_firm import OPEN_START_FLOW, PASSWORD, SETUP, SUMMARY_FIELDS, get, ok, start

FLOWS = "/api/v1/flows"


@pytest.fixture
def admins(firm):  # the board firm with three flow administrators (sid: Shanghai only)
    app, client = firm["app"], firm["client"]
    app.access.create_role(SETUP, "flow_admin", "flow_admin", [
        "flows.instances.view", "flows.instances.admin", "flows.instances.monitor"])
    for login, scope in (("ada", ["SH", "BJ"]), ("abe", ["SH", "BJ"]), ("sid", ["SH"])):
        op = app.access.create_operator(SETUP, login, login, firm["dept"]["SH"], None, None, PASSWORD).id
        app.access.grant_roles(SETUP, op, ["flow_admin"])
        app.access.set_business_lines(SETUP, op, ["brokerage"])
        app.access.set_data_scope(SETUP, op, [{"department_id": firm["dept"][d], "include_children": True}
                                              for d in scope], [])
        t = ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": PASSWORD}))
        firm["tokens"][login] = {"Authorization": f"Bearer {t['access_token']}"}
    return firm


def _four_eyes(firm) -> int:
    app = firm["app"]
    app.flows.save_draft(SETUP, "tenant_signing", OPEN_START_FLOW, {
        "deduplication": "none", "empty_assignee": "block", "summary_fields": SUMMARY_FIELDS,
        "override_approval": "second_administrator"}, None)
    position = app.flows.publish(SETUP, "tenant_signing", None)[0].position
    assert app.progress.wait_for(list(app.runners), position, 10)
    return position


def _post(firm, who: str, path: str, body: dict | None = None):
    return firm["client"].post(f"{FLOWS}{path}", json=body or {}, headers=firm["tokens"][who])


def _kinds(firm, instance: dict, position: int) -> list[dict]:
    return get(firm, "max", f"{FLOWS}/instances/{instance['id']}/timeline", position, limit=200)["items"]


def test_with_four_eyes_a_jump_waits_for_a_second_administrator_and_applies_as_the_requesters(admins):
    firm = admins
    _four_eyes(firm)
    a = start(firm, "sam", "四眼跳转", name="甲公司")
    asked = _post(firm, "ada", f"/instances/{a['id']}/jump", {"target": "ops_review", "reason": "录入已线下完成"})
    assert asked.status_code == 202, asked.text
    assert (asked.json()["status"], asked.json()["override_id"]) == ("pending", "o1")
    pos = asked.json()["position"]
    assert get(firm, "max", f"{FLOWS}/instances/{a['id']}", pos)["current_nodes"] == ["ops_entry"]
    pending = get(firm, "abe", f"{FLOWS}/overrides", pos)["items"]
    assert [(o["instance_id"], o["action"], o["params"], o["requested_by"]) for o in pending] == [
        (a["id"], "jump", {"target": "ops_review"}, "operator:ada")]

    own = _post(firm, "ada", f"/instances/{a['id']}/overrides/o1/approve")
    assert own.status_code == 403 and own.json()["code"] == "second_administrator_required"
    assert _post(firm, "olga", f"/instances/{a['id']}/overrides/o1/approve").status_code == 403  # not an admin
    pos = ok(_post(firm, "abe", f"/instances/{a['id']}/overrides/o1/approve"))["position"]
    assert get(firm, "max", f"{FLOWS}/instances/{a['id']}", pos)["current_nodes"] == ["ops_review"]
    timeline = [e for e in _kinds(firm, a, pos) if e["kind"] in ("override_requested", "override_approved", "jumped")]
    assert [e["kind"] for e in timeline] == ["override_requested", "override_approved", "jumped"]
    requested, approved, jumped = timeline
    assert (requested["actor"], requested["detail"]) == (
        "operator:ada", {"override": "o1", "action": "jump", "target": "ops_review"})
    assert approved["actor"] == "operator:abe"
    assert (jumped["detail"]["by"], jumped["comment"]) == ("operator:ada", "录入已线下完成")

    again = _post(firm, "abe", f"/instances/{a['id']}/overrides/o1/approve")
    assert again.status_code == 409 and again.json()["code"] == "override_already_decided"
    assert get(firm, "abe", f"{FLOWS}/overrides", pos)["items"] == []
    decided = get(firm, "abe", f"{FLOWS}/overrides", pos, status="approved")["items"]
    assert [(o["override_id"], o["decided_by"]) for o in decided] == [("o1", "operator:abe")]
    missing = _post(firm, "abe", f"/instances/{a['id']}/overrides/o9/approve")
    assert missing.status_code == 404 and missing.json()["code"] == "override_not_found"


def test_a_request_that_could_not_apply_is_refused_when_asked_not_when_approved(admins):
    firm = admins
    _four_eyes(firm)
    a = start(firm, "sam", "无效请求", name="甲公司")
    refused = _post(firm, "ada", f"/instances/{a['id']}/jump", {"target": "end", "reason": "直接结束"})
    assert refused.status_code == 422 and refused.json()["field"] == "target"
    assert get(firm, "abe", f"{FLOWS}/instances/{a['id']}/overrides", a["position"])["items"] == []


def test_a_declined_request_changes_nothing_and_its_requester_may_withdraw_one(admins):
    firm = admins
    _four_eyes(firm)
    a = start(firm, "sam", "拒绝请求", name="甲公司")
    assert _post(firm, "ada", f"/instances/{a['id']}/terminate", {"reason": "重复提交"}).status_code == 202
    assert _post(firm, "abe", f"/instances/{a['id']}/overrides/o1/decline", {}).status_code == 422  # reason needed
    ok(_post(firm, "abe", f"/instances/{a['id']}/overrides/o1/decline", {"reason": "不是重复"}))
    assert _post(firm, "ada", f"/instances/{a['id']}/terminate", {"reason": "再试"}).status_code == 202
    pos = ok(_post(firm, "ada", f"/instances/{a['id']}/overrides/o2/decline", {"reason": "撤回"}))["position"]
    assert get(firm, "max", f"{FLOWS}/instances/{a['id']}", pos)["status"] == "running"
    rows = get(firm, "ada", f"{FLOWS}/instances/{a['id']}/overrides", pos)["items"]
    assert [(o["override_id"], o["status"], o["decided_by"], o["decision_reason"]) for o in rows] == [
        ("o2", "declined", "operator:ada", "撤回"), ("o1", "declined", "operator:abe", "不是重复")]


def test_a_form_edit_request_applies_only_to_the_data_its_requester_saw(admins):
    firm = admins
    _four_eyes(firm)
    a = start(firm, "sam", "改表单", name="甲公司")
    data = board_firm.base(name="乙公司")
    assert _post(firm, "ada", f"/instances/{a['id']}/form",
                 {"node": "ops_entry", "data": data, "reason": "更正名称"}).status_code == 202
    other = board_firm.base(name="丙公司")
    assert _post(firm, "abe", f"/instances/{a['id']}/form",
                 {"node": "ops_entry", "data": other, "reason": "更正名称"}).status_code == 202
    pos = ok(_post(firm, "ada", f"/instances/{a['id']}/overrides/o2/approve"))["position"]
    assert get(firm, "max", f"{FLOWS}/instances/{a['id']}", pos)["data"]["basic"]["tenant_name_cn"] == "丙公司"
    stale = _post(firm, "abe", f"/instances/{a['id']}/overrides/o1/approve")
    assert stale.status_code == 409 and stale.json()["code"] == "override_outdated"
    unchanged = _post(firm, "ada", f"/instances/{a['id']}/form",
                      {"node": "ops_entry", "data": other, "reason": "无变化"})
    assert unchanged.status_code == 422 and unchanged.json()["field"] == "data"


def test_pending_requests_lapse_when_the_flow_finishes(admins):
    firm = admins
    _four_eyes(firm)
    a = start(firm, "sam", "失效", name="甲公司")
    assert _post(firm, "ada", f"/instances/{a['id']}/jump", {"target": "ops_review", "reason": "x"}).status_code == 202
    pos = ok(_post(firm, "sam", f"/instances/{a['id']}/withdraw", {"reason": "不办了"}))["position"]
    lapsed = get(firm, "abe", f"{FLOWS}/overrides", pos, status="lapsed")["items"]
    assert [(o["instance_id"], o["instance_status"]) for o in lapsed] == [(a["id"], "withdrawn")]
    late = _post(firm, "abe", f"/instances/{a['id']}/overrides/o1/approve")
    assert late.status_code == 409 and late.json()["code"] == "instance_not_running"


def test_without_four_eyes_an_override_applies_at_once(admins):
    firm = admins
    a = start(firm, "sam", "直接跳转", name="甲公司")
    done = ok(_post(firm, "ada", f"/instances/{a['id']}/jump", {"target": "ops_review", "reason": "x"}))
    assert (done["status"], done["override_id"]) == ("applied", None)
    assert get(firm, "max", f"{FLOWS}/instances/{a['id']}", done["position"])["current_nodes"] == ["ops_review"]


def test_an_administrator_moves_a_flow_to_another_department_and_its_viewers_follow(admins):
    firm = admins
    a = start(firm, "sam", "部门调整", name="甲公司")
    path = f"/instances/{a['id']}/department"
    bj = firm["dept"]["BJ"]
    assert _post(firm, "max", path, {"department_id": bj, "reason": "客户转北京"}).status_code == 403  # monitor only
    outside = _post(firm, "sid", path, {"department_id": bj, "reason": "客户转北京"})  # sid sees SH only
    assert outside.status_code == 404 and outside.json()["field"] == "department_id"
    same = _post(firm, "ada", path, {"department_id": firm["dept"]["SH"], "reason": "x"})
    assert same.status_code == 422 and same.json()["field"] == "department_id"
    unknown = _post(firm, "ada", path, {"department_id": "00000000-0000-4000-8000-000000000000", "reason": "x"})
    assert unknown.status_code == 404
    pos = ok(_post(firm, "ada", path, {"department_id": bj, "reason": "客户转北京"}))["position"]

    assert get(firm, "max", f"{FLOWS}/instances/{a['id']}", pos)["department_id"] == bj
    gone = firm["client"].get(f"{FLOWS}/instances/{a['id']}", headers=firm["tokens"]["mona"],
                              params={"wait_for_position": pos})
    assert gone.status_code == 404  # mona's scope is Shanghai
    assert get(firm, "mona", f"{FLOWS}/instances", pos)["items"] == []
    assert [i["id"] for i in get(firm, "max", f"{FLOWS}/instances", pos, department=bj)["items"]] == [a["id"]]
    # Commands check the department from the event store, not a cache: sid (Shanghai) can no longer act.
    refused = _post(firm, "sid", f"/instances/{a['id']}/jump", {"target": "ops_review", "reason": "x"})
    assert refused.status_code == 404
    (moved,) = [e for e in _kinds(firm, a, pos) if e["kind"] == "department_moved"]
    assert (moved["actor"], moved["comment"], moved["detail"]) == (
        "operator:ada", "客户转北京", {"from": firm["dept"]["SH"], "to": bj, "by": "operator:ada"})


def test_with_four_eyes_a_department_move_waits_too(admins):
    firm = admins
    _four_eyes(firm)
    a = start(firm, "sam", "四眼调整", name="甲公司")
    bj = firm["dept"]["BJ"]
    asked = _post(firm, "ada", f"/instances/{a['id']}/department", {"department_id": bj, "reason": "客户转北京"})
    assert asked.status_code == 202
    assert _post(firm, "sid", f"/instances/{a['id']}/overrides/o1/approve").status_code == 404  # BJ beyond sid
    pos = ok(_post(firm, "abe", f"/instances/{a['id']}/overrides/o1/approve"))["position"]
    assert get(firm, "max", f"{FLOWS}/instances/{a['id']}", pos)["department_id"] == bj
