"""Fee rates over HTTP: an administrator creates, revises and publishes a template and loads the
exchanges' rates; a bad exchange or rate is a 422 with its path; the counter reports a result with
its own token; people without the permissions are refused."""
from __future__ import annotations

from uuid import uuid4

from application.feerates.hook import CtpWritebackHook
from tests.e2e.signing_firm import ok
from tests.integration.test_feerates_writeback import request
from tests.unit.test_feerates import COMMISSION, FORM

FR = "/api/v1/feerates"
ENTRY = {"exchange": "SHFE", "product": "cu", "commission": {k: {"value": v["value"]} for k, v in COMMISSION.items()}}


def test_a_template_is_created_revised_published_and_listed_by_key(client, auth, signing):
    created = ok(client.post(f"{FR}/templates", headers=auth, json={
        "key": "vip", "name": "VIP", "business_line": "brokerage", "entries": [ENTRY]}), 201)
    ok(client.post(f"{FR}/templates", headers=auth, json={
        "key": "basic", "name": "基础", "business_line": "brokerage", "entries": [ENTRY]}), 201)
    stale = client.post(f"{FR}/templates/vip/versions", headers={**auth, "If-Match": '"9"'},
                        json={"name": "VIP", "entries": [{**ENTRY, "product": "cu2601"}]})
    assert stale.status_code == 409
    revised = ok(client.post(f"{FR}/templates/vip/versions", headers={**auth, "If-Match": f'"{created["version"]}"'},
                             json={"name": "VIP 2", "entries": [{**ENTRY, "product": "cu2601"}]}), 201)
    published = ok(client.post(f"{FR}/templates/vip/versions/2/publish",
                               headers={**auth, "If-Match": f'"{revised["version"]}"'}))
    detail = ok(client.get(f"{FR}/templates/vip", headers=auth))
    assert (detail["published"], detail["latest"], detail["name"]) == (2, 2, "VIP 2")
    assert detail["versions"][1]["entries"][0]["commission"]["OpenRatioByMoney"] == {"value": "0.00005"}

    # The list is a read model: read it once the publish has reached it.
    page = ok(client.get(f"{FR}/templates", headers=auth,
                         params={"limit": 1, "wait_for_position": published["position"]}))
    assert [t["key"] for t in page["items"]] == ["basic"]
    rest = ok(client.get(f"{FR}/templates", headers=auth, params={"limit": 1, "cursor": page["next_cursor"]}))
    assert [(t["key"], t["published"]) for t in rest["items"]] == [("vip", 2)] and rest["next_cursor"] is None


def test_an_unknown_exchange_or_an_impossible_rate_is_a_422_naming_the_entry(client, auth, signing):
    refused = client.post(f"{FR}/templates", headers=auth, json={
        "key": "bad", "name": "Bad", "business_line": "brokerage",
        "entries": [{**ENTRY, "exchange": "LME"},
                    {**ENTRY, "commission": {**ENTRY["commission"], "OpenRatioByMoney": {"value": "1.5"}}}]})
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_template"
    assert {e["path"] for e in refused.json()["errors"]} >= {"entries.0.exchange", "entries.1.commission"}
    rates = client.put(f"{FR}/exchange-rates", headers=auth, json={
        "source": "SHFE", "effective_date": "2026-12-01",
        "entries": [{"exchange": "SHFE", "product": "cu", "rates": {"OpenRatioByMoney": "-0.1"}}]})
    assert rates.status_code == 422 and rates.json()["code"] == "invalid_exchange_rates"


def test_the_counter_reports_with_its_own_token_and_nobody_else_may(client, auth, signing, live_container):
    outcome = CtpWritebackHook(live_container.feerates).run(request(FORM))
    sam = signing["sam"]
    assert client.get(f"{FR}/templates", headers=sam).status_code == 403
    assert client.post(f"{FR}/templates", headers=sam, json={
        "key": "x1", "name": "X", "business_line": "brokerage", "entries": [ENTRY]}).status_code == 403
    report = {"file": outcome.result["file"], "status": "imported", "message": "ok"}
    assert client.post(f"{FR}/writebacks/results", headers=sam, json=report).status_code == 403
    assert client.post(f"{FR}/writebacks/results", json=report).status_code == 401

    issued = ok(client.post("/api/v1/access/api-tokens", headers=auth, json={
        "name": "ctp2-counter", "permissions": ["feerates.writeback.report"], "business_lines": ["brokerage"]}), 201)
    counter = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get(f"{FR}/writebacks/{outcome.result['writeback_id']}", headers=counter).status_code == 403
    both = client.post(f"{FR}/writebacks/results", headers=counter, json={**report, "request_id": "a:b"})
    assert both.status_code == 422
    unknown = client.post(f"{FR}/writebacks/results", headers=counter,
                          json={**report, "file": f"feerate_{uuid4()}_t.csv"})
    assert unknown.status_code == 404
    done = ok(client.post(f"{FR}/writebacks/results", headers=counter, json=report))
    assert done["status"] == "imported" and done["records"] == 3
    contradicting = client.post(f"{FR}/writebacks/results", headers=counter, json={**report, "status": "failed"})
    assert contradicting.status_code == 409 and contradicting.json()["code"] == "writeback_result_conflict"
    shown = ok(client.get(f"{FR}/writebacks/{outcome.result['writeback_id']}", headers=auth))
    assert shown["status"] == "imported" and shown["document_id"] is not None
