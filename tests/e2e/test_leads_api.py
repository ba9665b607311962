"""Leads through the HTTP API: channels and tokens, intake with per-row results, bad input
(unknown tokens, malformed phones, oversize fields, duplicate rows in a file, oversize files),
rate limits, the list with keyset pagination, detail, assignment, activity, analytics CSV."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from domain.shared.context import CommandContext
from tests.engines import ADMIN_HEADERS as ADMIN

SETUP = CommandContext("admin:test", "setup")


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def caught_up(live, projection: str) -> None:
    """Wait for the running workers (a catch-up of our own would do nothing while they hold it)."""
    assert live.progress.wait_for([projection], live.store.head(), 10)


@pytest.fixture
def firm(client, live_container):
    access = live_container.access
    access.create_business_line(SETUP, "brokerage", "Brokerage")
    online = str(access.create_department(SETUP, "online", "网金部", "online_finance", None).id)
    access.create_role(SETUP, "lead_agent", "客户经理", ["leads.view", "leads.work"])
    for login in ("ann", "bob"):
        who = access.create_operator(SETUP, login, login, online, None, None, None).id
        access.grant_roles(SETUP, who, ["lead_agent"])
        access.set_business_lines(SETUP, who, ["brokerage"])
    ok(client.post("/api/v1/leads/channels", headers=ADMIN, json={
        "code": "ths", "name": "[手炒开户]期货交易tab", "channel_type": "tonghuashun", "promotion_type": "同花顺",
        "business_line": "brokerage", "department_id": online}), 201)
    ok(client.put("/api/v1/leads/rules/brokerage/assignment/even", headers=ADMIN, json={
        "name": "同花顺渠道均分", "owner_department": online, "channels": ["ths"], "strategy": "round_robin",
        "members": [{"id": "operator:ann"}, {"id": "operator:bob"}]}))
    empty = client.put("/api/v1/leads/rules/brokerage/assignment/bad", headers=ADMIN, json={
        "name": "x", "owner_department": online, "strategy": "weighted", "members": []})
    assert empty.status_code == 422 and empty.json()["detail"] == "a round_robin or weighted rule needs members"
    ghost = client.put("/api/v1/leads/rules/brokerage/assignment/bad", headers=ADMIN, json={
        "name": "x", "owner_department": online, "members": [{"id": "operator:ghost"}]})
    assert ghost.status_code == 404 and ghost.json()["field"] == "members[0].id"
    access.create_operator(SETUP, "newbie", "newbie", online, None, None, None)  # no role, no line yet
    unable = client.put("/api/v1/leads/rules/brokerage/assignment/bad", headers=ADMIN, json={
        "name": "x", "owner_department": online, "members": [{"id": "operator:ann"}, {"id": "operator:newbie"}]})
    assert unable.status_code == 422 and unable.json()["field"] == "members[1].id"
    assert "operator:newbie" in unable.json()["detail"] and "operator:ann" not in unable.json()["detail"]
    token = ok(client.post("/api/v1/leads/channels/ths/token", headers=ADMIN))["token"]
    return {"online": online, "token": token}


def test_intake_with_a_channel_token_answers_per_row(client, firm):
    intake = {"X-Channel-Token": firm["token"]}
    out = ok(client.post("/api/v1/leads/intake", headers=intake, json={"leads": [
        {"phone": "13812345678", "name": "张三"}, {"phone": "1381234"}, {"phone": "13812345679", "note": "x" * 600},
        {"phone": "13812345678"}]}))
    assert [(r["status"], r.get("flag")) for r in out["results"]] == [
        ("valid", "new"), ("rejected", None), ("rejected", None), ("filtered", "repeat")]
    assert out["results"][1]["reason"].startswith("phone '1381234' is not a valid number")
    assert "longer than 500" in out["results"][2]["reason"]
    unknown = client.post("/api/v1/leads/intake", headers={"X-Channel-Token": "lfc_ths.forged"},
                          json={"leads": [{"phone": "13812345670"}]})
    assert unknown.status_code == 401 and unknown.json()["code"] == "unknown_channel_token"
    missing = client.post("/api/v1/leads/intake", json={"leads": [{"phone": "13812345670"}]})
    assert missing.status_code == 401
    too_many = client.post("/api/v1/leads/intake", headers=intake, json={"leads": [{"phone": "1"}] * 1001})
    assert too_many.status_code == 422 and too_many.json()["field"] == "leads"
    # landing pages: consent required
    ok(client.put("/api/v1/leads/channels/ths/landing-pages/spring", headers=ADMIN, json={
        "title": "在线申请超便捷", "privacy_consent_required": True,
        "wecom": {"enabled": True, "button_name": "获取专属服务", "qr_url": "https://example.com/qr.png"}}))
    refused = client.post("/api/v1/leads/intake?landing_page=spring", headers=intake,
                          json={"leads": [{"phone": "13812345671"}]})
    assert refused.status_code == 422 and refused.json()["field"] == "privacy_consent"
    landed = ok(client.post("/api/v1/leads/intake?landing_page=spring", headers=intake,
                            json={"leads": [{"phone": "13812345671"}], "privacy_consent": True}))
    assert landed["after_submit"]["wecom"]["qr_url"] == "https://example.com/qr.png"
    # rate limit per token
    live = client.app.state.container
    live.lead_rate_limiter.per_minute = 0  # unlimited ...
    live.lead_rate_limiter.per_minute = 1  # ... then one lead a minute, already spent
    limited = client.post("/api/v1/leads/intake", headers=intake, json={"leads": [{"phone": "13812345672"}]})
    assert limited.status_code == 429 and limited.headers["Retry-After"]


def test_csv_and_xlsx_import_report_every_row(client, firm):
    csv_text = ("手机号,姓名,备注\n13900000001,甲,\n139-0000-0002,乙,\nnot-a-phone,丙,\n13900000001,甲again,\n"
                "13900000003,丁," + "x" * 600 + "\n13900000004,a,b,c\n")
    out = ok(client.post("/api/v1/leads/channels/ths/imports?import_id=abcdef12", headers={
        **ADMIN, "Content-Type": "text/csv"}, content=csv_text.encode("utf-8-sig")))
    assert [(r["row"], r["status"]) for r in out["results"]] == [
        (2, "valid"), (3, "valid"), (4, "rejected"), (5, "rejected"), (6, "rejected"), (7, "rejected")]
    reasons = {r["row"]: r["reason"] for r in out["results"]}
    assert reasons[5] == "duplicate of row 2 in this file" and "longer than 500" in reasons[6]
    assert "header has 3 columns" in reasons[7]
    progress = ok(client.get("/api/v1/leads/imports/abcdef12", headers=ADMIN))
    assert progress["status"] == "done" and progress["counts"] == {"valid": 2, "filtered": 0, "rejected": 4}
    book = Workbook()
    sheet = book.active
    sheet.append(["phone", "name"])
    sheet.append([13900000005, "戊"])
    sheet.append(["13900000002", "乙"])  # already imported above: a repeat within the window
    buf = io.BytesIO()
    book.save(buf)
    out = ok(client.post("/api/v1/leads/channels/ths/imports", headers={
        **ADMIN, "Content-Type": "application/octet-stream"}, content=buf.getvalue()))
    assert [(r["status"], r["reason"]) for r in out["results"]] == [("valid", None), ("filtered", "repeat_intake")]
    no_phone = client.post("/api/v1/leads/channels/ths/imports", headers={**ADMIN, "Content-Type": "text/csv"},
                           content=b"name\nx\n")
    assert no_phone.status_code == 422 and no_phone.json()["code"] == "invalid_import_file"
    unknown = client.post("/api/v1/leads/channels/nope/imports", headers={**ADMIN, "Content-Type": "text/csv"},
                          content=b"phone\n13900000009\n")
    assert unknown.status_code == 404


def test_a_100_mb_upload_is_refused_before_anything_is_read(client, firm):
    limit = client.app.state.container.settings.leads_import_max_bytes
    declared = client.post("/api/v1/leads/channels/ths/imports", headers={
        **ADMIN, "Content-Type": "text/csv", "Content-Length": str(100 * 1024 * 1024)}, content=b"phone\n")
    assert declared.status_code == 413 and str(limit) in declared.json()["detail"]

    def streamed():  # no Content-Length: counted while streaming, stopped at the limit
        yield b"phone\n"
        chunk = b"13900000001\n" * 87_382  # ~1 MiB
        for _ in range(limit // len(chunk) + 2):
            yield chunk

    chunked = client.post("/api/v1/leads/channels/ths/imports", headers={**ADMIN, "Content-Type": "text/csv"},
                          content=streamed())
    assert chunked.status_code == 413
    assert ok(client.get("/api/v1/leads", headers=ADMIN, params={"count": True}))["total"] == 0  # nothing half-done


def test_list_detail_assign_activity_and_analytics(client, firm):
    intake = {"X-Channel-Token": firm["token"]}
    out = ok(client.post("/api/v1/leads/intake", headers=intake, json={
        "leads": [{"phone": f"1370000{i:04d}"} for i in range(5)]}))
    position = out["position"]
    first = ok(client.get("/api/v1/leads", headers=ADMIN, params={"limit": 2, "wait_for_position": position,
                                                                  "count": True}))
    assert first["total"] == 5 and len(first["items"]) == 2 and first["next_cursor"]
    seen = [i["id"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = ok(client.get("/api/v1/leads", headers=ADMIN, params={"limit": 2, "cursor": cursor}))
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 5
    oldest, cursor = [], None
    while True:
        page = ok(client.get("/api/v1/leads", headers=ADMIN, params={"limit": 3, "sort": "oldest",
                                                                      **({"cursor": cursor} if cursor else {})}))
        oldest += [i["id"] for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert oldest == seen[::-1]
    bad = client.get("/api/v1/leads", headers=ADMIN, params={"cursor": "garbage"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
    lead = out["results"][0]["lead_id"]
    moved = ok(client.post(f"/api/v1/leads/{lead}/assign", headers=ADMIN, json={
        "owner": "operator:bob", "department_id": firm["online"], "reason": "客户要求换人"}))
    ok(client.post(f"/api/v1/leads/{lead}/follow-ups", headers=ADMIN, json={
        "content": "正在忙, 后面再联系", "connected": True, "opening_intent": "strong"}))
    ok(client.post(f"/api/v1/leads/{lead}/calls", headers=ADMIN, json={
        "started_at": "2026-11-22T04:36:12Z", "duration_seconds": 56, "connected": True}))
    wechat = ok(client.post(f"/api/v1/leads/{lead}/wechat", headers=ADMIN, json={"nickname": "王小旺"}))
    detail = ok(client.get(f"/api/v1/leads/{lead}", headers=ADMIN,
                           params={"wait_for_position": wechat["position"]}))
    assert detail["lead"]["owner"] == "operator:bob" and detail["lead"]["wechat_added"]
    assert [t["kind"] for t in detail["timeline"]] == ["wechat_added", "call", "follow_up", "transfer", "intake"]
    calls = ok(client.get(f"/api/v1/leads/{lead}", headers=ADMIN, params={"category": "call"}))["timeline"]
    assert [(c["detail"]["duration_seconds"], c["detail"]["connected"]) for c in calls] == [(56, True)]
    assert moved["version"] == 2
    bad_owner = client.post(f"/api/v1/leads/{lead}/assign", headers=ADMIN, json={
        "owner": "operator:ghost", "department_id": firm["online"], "reason": "x"})
    assert bad_owner.status_code == 404 and bad_owner.json()["field"] == "owner"
    opened = ok(client.post("/api/v1/leads/account-opening/events", headers=ADMIN, json={"events": [
        {"business_line": "brokerage", "phone": out["results"][0]["phone"], "kind": "opened",
         "at": "2026-11-22T05:00:00+08:00"},
        {"business_line": "brokerage", "phone": "13700009999", "kind": "opened", "at": "2026-11-22T05:00:00+08:00"},
        {"business_line": "brokerage", "phone": "13700000001", "kind": "teleported", "at": "x"}]}))
    assert [r["status"] for r in opened["results"]] == ["accepted", "rejected", "rejected"]
    live = client.app.state.container
    caught_up(live, "analytics.lead_conversion")
    data = ok(client.get("/api/v1/leads/analytics/channels", headers=ADMIN, params={"business_line": "brokerage"}))
    assert data["rows"][0]["channel_code"] == "ths" and data["rows"][0]["valid"] == 5
    assert data["rows"][0]["opened"] == 1 and data["rows"][0]["opened_rate"] == 0.2
    text = client.get("/api/v1/leads/analytics/employees", headers=ADMIN, params={
        "business_line": "brokerage", "granularity": "day", "format": "csv"}).content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("period,employee,channel_code,valid,wechat,wechat_rate")
    verify = ok(client.get("/api/v1/leads/rules/brokerage/verify", headers=ADMIN))
    assert verify == {"checked": 5, "mismatches": [], "ok": True}


def test_permissions_and_scope(client, firm, live_container):
    access = live_container.access
    other = str(access.create_department(SETUP, "other", "other", "branch", None).id)
    op = access.create_operator(SETUP, "carl", "carl", other, None, None, "Sup3r-Secret-Passw0rd!").id
    access.create_role(SETUP, "viewer", "viewer", ["leads.view"])
    access.grant_roles(SETUP, op, ["viewer"])
    access.set_business_lines(SETUP, op, ["brokerage"])
    access.set_data_scope(SETUP, op, [{"department_id": other}], [])
    intake = ok(client.post("/api/v1/leads/intake", headers={"X-Channel-Token": firm["token"]},
                            json={"leads": [{"phone": "13600000001"}]}))
    caught_up(live_container, "access.principals")
    login = ok(client.post("/api/v1/auth/login", json={"login_name": "carl", "password": "Sup3r-Secret-Passw0rd!"}))
    carl = {"Authorization": f"Bearer {login['access_token']}"}
    lead = intake["results"][0]["lead_id"]
    assert client.get(f"/api/v1/leads/{lead}", headers=carl).status_code == 404  # outside carl's scope
    assert client.post(f"/api/v1/leads/{lead}/assign", headers=carl, json={
        "owner": "operator:bob", "department_id": firm["online"], "reason": "x"}).status_code == 403
    assert ok(client.get("/api/v1/leads", headers=carl, params={
        "wait_for_position": intake["position"]}))["items"] == []


def test_segments_and_sop_tasks_over_http(client, firm):
    out = ok(client.post("/api/v1/leads/intake", headers={"X-Channel-Token": firm["token"]},
                         json={"leads": [{"phone": "13500000001"}, {"phone": "13500000002"}]}))
    segment = ok(client.put("/api/v1/leads/segments/brokerage/new-unfollowed", headers=ADMIN, json={
        "name": "未跟进 | 新线索", "filter": {"flag": "new", "followed_up": False}}))
    bad = client.put("/api/v1/leads/segments/brokerage/xx", headers=ADMIN, json={
        "name": "x", "filter": {"intake": "yesterday"}})
    assert bad.status_code == 422 and bad.json()["field"] == "filter.intake"
    # Read after both the leads and the segment definition were applied.
    segments = ok(client.get("/api/v1/leads/segments", headers=ADMIN, params={
        "wait_for_position": max(out["position"], segment["position"])}))
    assert [(s["key"], s["count"]) for s in segments] == [("new-unfollowed", 2)]
    refused = client.put("/api/v1/leads/sop-tasks/brokerage/sms", headers=ADMIN, json={
        "name": "短信", "segments": ["new-unfollowed"], "action": "sms"})
    assert refused.status_code == 422 and "needs its content" in refused.json()["detail"]
    missing = client.put("/api/v1/leads/sop-tasks/brokerage/sms", headers=ADMIN, json={
        "name": "短信", "segments": ["nope"], "action": "call"})
    assert missing.status_code == 404 and missing.json()["field"] == "segments"
    saved = ok(client.put("/api/v1/leads/sop-tasks/brokerage/sms", headers=ADMIN, json={
        "name": "短信", "segments": ["new-unfollowed"], "action": "sms", "content": "欢迎"}))
    # right after the save: run-now waits for the read model to hold it
    assert ok(client.post("/api/v1/leads/sop-tasks/brokerage/run-now", headers=ADMIN)) == {"reached": 2,
                                                                                           "failed": 0}
    head = client.app.state.container.store.head()
    assert head > saved["position"]  # the run recorded its contacts
    tasks = ok(client.get("/api/v1/leads/sop-tasks", headers=ADMIN, params={"wait_for_position": head}))
    assert [(t["key"], t["reached"]) for t in tasks] == [("sms", 2)]


def test_a_lead_is_not_assigned_by_hand_to_an_employee_who_cannot_receive_leads(client, firm):
    out = ok(client.post("/api/v1/leads/intake", headers={"X-Channel-Token": firm["token"]},
                         json={"leads": [{"phone": "13500000001"}]}))
    lead = out["results"][0]["lead_id"]
    refused = client.post(f"/api/v1/leads/{lead}/assign", headers=ADMIN, json={
        "owner": "operator:newbie", "department_id": firm["online"], "reason": "x"})  # no role, no line
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["code"], refused.json()["field"]) == ("assignee_unavailable", "owner")
    assert "operator:newbie" in refused.json()["detail"]

def test_an_account_manager_works_her_own_leads_only(client, firm, live_container):
    access = live_container.access
    other = str(access.create_department(SETUP, "other", "other", "branch", None).id)
    dora = access.create_operator(SETUP, "dora", "dora", other, None, None, "Sup3r-Secret-Passw0rd!").id
    access.create_role(SETUP, "am", "am", ["leads.view", "leads.work"])
    access.grant_roles(SETUP, dora, ["am"])
    access.set_business_lines(SETUP, dora, ["brokerage"])
    access.set_data_scope(SETUP, dora, [{"department_id": other}], [])
    out = ok(client.post("/api/v1/leads/intake", headers={"X-Channel-Token": firm["token"]},
                         json={"leads": [{"phone": "13400000001"}, {"phone": "13400000002"}]}))
    mine, theirs = (r["lead_id"] for r in out["results"])
    ok(client.post(f"/api/v1/leads/{mine}/assign", headers=ADMIN, json={
        "owner": "operator:dora", "department_id": firm["online"], "reason": "she knows the customer"}))
    caught_up(live_container, "access.principals")
    token = ok(client.post("/api/v1/auth/login", json={"login_name": "dora", "password": "Sup3r-Secret-Passw0rd!"}))
    as_dora = {"Authorization": f"Bearer {token['access_token']}"}
    done = ok(client.post(f"/api/v1/leads/{mine}/follow-ups", headers=as_dora, json={
        "content": "有开户意向", "connected": True, "opening_intent": "has"}))
    page = ok(client.get("/api/v1/leads/mine", headers=as_dora, params={"wait_for_position": done["position"]}))
    assert [i["id"] for i in page["items"]] == [mine] and page["items"][0]["opening_intent"] == "has"
    assert client.post(f"/api/v1/leads/{theirs}/follow-ups", headers=as_dora, json={
        "content": "x"}).status_code == 404  # not hers and outside her scope
    assert client.post(f"/api/v1/leads/{mine}/assign", headers=as_dora, json={
        "owner": "operator:ann", "department_id": firm["online"], "reason": "x"}).status_code == 403
    blocked = client.post(f"/api/v1/leads/{mine}/sms", headers=as_dora, json={"content": "x" * 1001})
    assert blocked.status_code == 422 and blocked.json()["field"] == "content"
