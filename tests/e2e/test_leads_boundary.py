"""Review fixes of the leads context at the HTTP boundary: no bad value ever reaches a leads
event (bindings, the opening webhook, CSV headers, NUL and lone surrogates), a reader error
in the middle of an import keeps the accepted rows' results, an XLSX zip bomb is refused."""
from __future__ import annotations

import io
import zipfile

import orjson

from tests.e2e.test_leads_api import ADMIN, SETUP, firm, ok  # noqa: F401 - the firm fixture


def _healthy(client, live_container, position):
    r = client.get("/api/v1/leads", headers=ADMIN, params={"wait_for_position": position, "wait_timeout": 8,
                                                             "limit": 1})
    assert r.status_code == 200, r.text
    assert live_container.runners["leads.leads"].status().error is None


def _refused(client, path, body, headers):
    """A NUL may be screened by the JSON middleware (422) or, past it (a content type it does
    not recognise), by the leads boundary: a 422 or a per-row rejection; never an event."""
    r = client.post(path, headers={**headers, "Content-Type": "application/JSON"}, content=orjson.dumps(body))
    assert r.status_code == 422 or all(x["status"] == "rejected" for x in r.json()["results"]), r.text


def test_bad_values_are_refused_before_any_event(client, live_container, firm):  # noqa: F811
    intake = {"X-Channel-Token": firm["token"]}
    # C1: bindings — bound_at must be an aware time, department_id an existing department
    out = ok(client.post("/api/v1/leads/bindings", headers=ADMIN, json={"rows": [
        {"phone": "13812340001", "kind": "ib", "holder": "x", "bound_at": "not-a-date"},
        {"phone": "13812340002", "kind": "ib", "holder": "x", "bound_at": "2020-01-01"},
        {"phone": "13812340003", "kind": "ib", "holder": "x", "department_id": {"a": 1}},
        {"phone": "13812340004", "kind": "ib", "holder": "x", "department_id": "00000000-0000-0000-0000-000000000001"},
        {"phone": "13812340005", "kind": "ib", "holder": "x" * 101},
        {"phone": "13812340007", "kind": "ib", "holder": "IB-7", "department_id": firm["online"],
         "bound_at": "2020-01-01T00:00:00+08:00"}]}))
    assert [r["status"] for r in out["results"]] == ["rejected"] * 5 + ["accepted"]
    assert out["results"][0]["reason"].startswith("bound_at:")
    assert "does not exist" in out["results"][3]["reason"]
    # C2: opening webhook — node / external_id bounded strings, business_line a string
    ok(client.post("/api/v1/leads/intake", headers=intake, json={"leads": [{"phone": "13812340010"}]}))
    base = {"business_line": "brokerage", "phone": "13812340010", "at": "2026-01-01T00:00:00+08:00"}
    events = ok(client.post("/api/v1/leads/account-opening/events", headers=ADMIN, json={"events": [
        {**base, "kind": "node", "node": {"x": 1}}, {**base, "kind": "node", "node": 5},
        {**base, "business_line": ["x"], "kind": "entered"},
        {**base, "kind": "entered", "at": "2026-01-01T00:00:00"}, {**base, "kind": "node", "node": "video"}]}))
    assert [r["status"] for r in events["results"]] == ["rejected"] * 4 + ["accepted"]
    assert events["results"][0]["reason"].startswith("node:")
    # C3: a NUL in a CSV header is refused as a file error; in an intake field name per row
    r = client.post("/api/v1/leads/channels/ths/imports", headers={**ADMIN, "Content-Type": "text/csv"},
                    content=b"phone,no\x00te\n13812340011,hello\n")
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
    _refused(client, "/api/v1/leads/intake", {"leads": [
        {"phone": "13812340012", "fields": {"a\u0000b": "v"}}, {"phone": "13812340013", "note": "x\u0000"}]}, intake)
    _refused(client, "/api/v1/leads/bindings", {"rows": [
        {"phone": "13812340006", "kind": "ib", "holder": "a\u0000b"}]}, ADMIN)
    _refused(client, "/api/v1/leads/account-opening/events", {"events": [
        {**base, "kind": "node", "node": "a\u0000"}]}, ADMIN)
    # M7: a lone surrogate is refused by the text boundary, naming the field, never a 500
    rows = client.post("/api/v1/leads/intake", headers={**intake, "Content-Type": "application/json"},
                       content=b'{"leads": [{"phone": "13812340014", "note": "a\\ud800b"}]}')
    assert rows.status_code == 422 and rows.json()["field"] == "leads.0.note"
    lead = ok(client.post("/api/v1/leads/intake", headers=intake, json={"leads": [{"phone": "13812340015"}]}))
    lid = lead["results"][0]["lead_id"]
    for body in (b'{"content": "a\\ud800"}', orjson.dumps({"content": "a\u0000"}),
                 orjson.dumps({"content": "ok", "tags": ["a\u0000"]})):
        r = client.post(f"/api/v1/leads/{lid}/follow-ups", headers={**ADMIN, "Content-Type": "application/JSON"},
                        content=body)
        assert r.status_code == 422, r.text
    r = client.put("/api/v1/leads/segments/brokerage/s1", headers={**ADMIN, "Content-Type": "application/JSON"},
                   content=orjson.dumps({"name": "s", "filter": {"owner": "a\u0000"}}))
    assert r.status_code == 422
    last = ok(client.post("/api/v1/leads/intake", headers=intake, json={"leads": [{"phone": "13812340016"}]}))
    _healthy(client, live_container, last["position"])


def test_a_reader_error_midway_keeps_the_accepted_rows(client, live_container, firm):  # noqa: F811
    rows = "".join(f"1381234{i:04d},x\n" for i in range(502))
    body = ("phone,note\n" + rows + "13900000000," + "y" * 200_000 + "\n").encode()
    out = ok(client.post("/api/v1/leads/channels/ths/imports", headers={**ADMIN, "Content-Type": "text/csv"},
                         content=body))
    assert out["status"] == "partial" and "field larger than field limit" in out["error"]
    assert out["counts"] == {"valid": 502, "filtered": 0, "rejected": 1}
    assert len(out["results"]) == 503 and out["results"][-1]["status"] == "rejected"


def _bomb(megabytes: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/sharedStrings.xml", "w") as f:
            chunk = b"A" * (1024 * 1024)
            for _ in range(megabytes):
                f.write(chunk)
    return buf.getvalue()


def test_an_xlsx_zip_bomb_is_refused_before_inflating(client, firm):  # noqa: F811
    r = client.post("/api/v1/leads/channels/ths/imports",
                    headers={**ADMIN, "Content-Type": "application/octet-stream"}, content=_bomb(20))
    assert r.status_code == 422 and "zip bomb" in r.json()["detail"]


def _scoped_operator(client, live_container, firm, login, permissions):  # noqa: F811
    access = live_container.access
    password = "Sup3r-Secret-Passw0rd!"
    who = access.create_operator(SETUP, login, login, firm["online"], None, None, password).id
    access.create_role(SETUP, f"r_{login}", login, permissions)
    access.grant_roles(SETUP, who, [f"r_{login}"])
    access.set_business_lines(SETUP, who, ["brokerage"])
    access.set_data_scope(SETUP, who, [{"department_id": firm["online"]}], [])
    token = ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": password}))
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_masked_phones_stay_masked_in_intakes_hits_and_search(client, live_container, firm):  # noqa: F811
    dora = _scoped_operator(client, live_container, firm, "dora", ["leads.view", "leads.work", "leads.rules.manage"])
    for field, mask in (("phone", "phone"), ("name", "name")):
        ok(client.post("/api/v1/access/field-rules", headers=ADMIN, json={
            "resource": "leads.lead", "field": field, "effect": "masked", "mask": mask,
            "applies_to_roles": ["r_dora"]}), 201)
    out = ok(client.post("/api/v1/leads/intake", headers={"X-Channel-Token": firm["token"]},
                         json={"leads": [{"phone": "13400000001", "name": "张三丰"}]}))
    lead = out["results"][0]["lead_id"]
    ok(client.post("/api/v1/leads/settings/brokerage/sensitive-words", headers=ADMIN, json={"add": ["保本"]}))
    ok(client.put("/api/v1/leads/settings/brokerage", headers=ADMIN, json={"sensitive_mode": "flag"}))
    sms = ok(client.post(f"/api/v1/leads/{lead}/sms", headers=ADMIN, json={"content": "保 本"}))
    detail = ok(client.get(f"/api/v1/leads/{lead}", headers=dora, params={"wait_for_position": sms["position"]}))
    assert [(i["phone"], i["fields"]["name"]) for i in detail["intakes"]] == [("+86****0001", "张**")]
    hits = ok(client.get("/api/v1/leads/settings/brokerage/sensitive-hits", headers=dora))
    assert [h["phone"] for h in hits["items"]] == ["+86****0001"]
    search = client.get("/api/v1/leads", headers=dora, params={"phone": "13400000001"})
    assert search.status_code == 403
    assert ok(client.get("/api/v1/leads", headers=ADMIN, params={"phone": "13400000001"}))["items"]


def test_configuration_stays_inside_the_callers_departments(client, live_container, firm):  # noqa: F811
    other = str(live_container.access.create_department(SETUP, "g9", "营业部", "branch", None).id)
    eve = _scoped_operator(client, live_container, firm, "eve", ["leads.rules.manage", "leads.view"])
    rule = {"name": "x", "owner_department": other, "strategy": "manual"}
    assert client.put("/api/v1/leads/rules/brokerage/assignment/xx", headers=eve, json=rule).status_code == 403
    ok(client.put("/api/v1/leads/rules/brokerage/assignment/xx", headers=ADMIN, json=rule))
    mine = {**rule, "owner_department": firm["online"]}  # nor may she take another department's rule over
    assert client.put("/api/v1/leads/rules/brokerage/assignment/xx", headers=eve, json=mine).status_code == 403
    recycle = {"name": "r", "owner_department": firm["online"], "scope_departments": [other], "days": 3,
               "to_department": firm["online"]}
    assert client.put("/api/v1/leads/rules/brokerage/recycle/rr", headers=eve, json=recycle).status_code == 403
    assert client.post("/api/v1/leads/rules/brokerage/recycle-now", headers=eve).status_code == 403
    assert client.post("/api/v1/leads/sop-tasks/brokerage/run-now", headers=eve).status_code == 403
    binding = {"rows": [{"phone": "13812340099", "kind": "ib", "holder": "IB"}]}
    assert client.post("/api/v1/leads/bindings", headers=eve, json=binding).status_code == 403


def test_a_landing_page_enforces_its_required_fields_and_records_consent(client, live_container, firm):  # noqa: F811
    intake = {"X-Channel-Token": firm["token"]}
    ok(client.put("/api/v1/leads/channels/ths/landing-pages/spring", headers=ADMIN, json={
        "title": "在线申请", "privacy_consent_required": True,
        "fields": [{"key": "name", "label": "姓名", "required": True}]}))
    missing = client.post("/api/v1/leads/intake?landing_page=spring", headers=intake,
                          json={"leads": [{"phone": "13812345671"}], "privacy_consent": True})
    assert missing.status_code == 422 and missing.json()["field"] == "leads[0].name"
    out = ok(client.post("/api/v1/leads/intake?landing_page=spring", headers=intake,
                         json={"leads": [{"phone": "13812345671", "name": "张三"}], "privacy_consent": True}))
    from domain.leads.lead import Lead
    events = list(live_container.leads.events.get(live_container.leads.lead_for("brokerage", "13812345671")))
    assert isinstance(events[0], Lead.Created) and events[0].intake["privacy_consent"] is True
    assert events[0].intake["landing_page"] == "spring" and out["results"][0]["status"] == "valid"


def test_low_findings_timeline_paging_audit_retries_and_formula_cells(client, live_container, firm):  # noqa: F811
    from application.leads.importer import csv_bytes

    intake = {"X-Channel-Token": firm["token"]}
    out = ok(client.post("/api/v1/leads/intake", headers=intake, json={"leads": [{"phone": "13812349999"}]}))
    lid = out["results"][0]["lead_id"]
    base = {"business_line": "brokerage", "phone": "13812349999", "at": "2026-01-01T00:00:00+08:00"}
    for _ in range(2):  # a webhook retry with the same external_id records nothing new
        events = ok(client.post("/api/v1/leads/account-opening/events", headers=ADMIN, json={"events": [
            {**base, "kind": "node", "node": "video", "external_id": "A-1"}]}))
    for i in range(3):
        last = ok(client.post(f"/api/v1/leads/{lid}/follow-ups", headers=ADMIN, json={"content": f"call {i}"}))
    page = ok(client.get(f"/api/v1/leads/{lid}", headers=ADMIN, params={
        "timeline_limit": 2, "wait_for_position": last["position"]}))
    assert len(page["timeline"]) == 2 and page["timeline_next_before"]
    rest = ok(client.get(f"/api/v1/leads/{lid}", headers=ADMIN, params={
        "timeline_limit": 2, "before": page["timeline_next_before"]}))
    kinds = [t["kind"] for t in page["timeline"] + rest["timeline"]]
    assert kinds.count("opening_node") == 1 and len(kinds) == 4 and events["results"][0]["status"] == "accepted"
    trail = ok(client.get(f"/api/v1/audit/aggregates/{lid}/trail", headers=ADMIN))["items"]
    assert len(trail) == 5
    assert csv_bytes([["=1+1", "+8613800000000", "ok"]]).decode().strip() == "'=1+1,'+8613800000000,ok"
    if live_container.redis.available:  # import progress: only its starter (or an unrestricted scope) sees it
        ok(client.post("/api/v1/leads/channels/ths/imports", headers={**ADMIN, "Content-Type": "text/csv"},
                       params={"import_id": "abcdef12"}, content=b"phone\n13812348888\n"))
        assert ok(client.get("/api/v1/leads/imports/abcdef12", headers=ADMIN))["status"] == "done"
        fay = _scoped_operator(client, live_container, firm, "fay", ["leads.intake"])
        assert client.get("/api/v1/leads/imports/abcdef12", headers=fay).status_code == 404
