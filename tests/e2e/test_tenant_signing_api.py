"""The tenant signing of seed 004 through the HTTP API: SALES starts, OPS enters and reviews,
CLEARING configures and reviews, FINANCE approves; with the §7.3 matrix enforced (OPS cannot
edit the rate section; only FINANCE sees bank data unmasked)."""
from __future__ import annotations

import copy
import json

from tests.e2e.signing_firm import BASE, SETUP, START, hide_commercial_at_ops_entry, ok, todo_task
from tests.engines import ADMIN_HEADERS as ADMIN


def test_tenant_signing_end_to_end_with_the_permission_matrix(client, signing):
    t = signing
    started = ok(client.post("/api/v1/flows/instances", headers=t["sam"], json={
        "definition": "tenant_signing", "subject": "institution", "title": "甲公司签约", "data": START}), 201)
    iid, pos = started["id"], started["position"]

    # OPS entry: fills the basic section; may not touch the rate section (§7.3).
    task = todo_task(client, "olga", t["olga"], pos)
    assert task["node"] == "ops_entry"
    sneaky = copy.deepcopy(BASE)
    sneaky["rates"] = {"fee_items": [{"id": "r1", "product": "VCC", "item": "开卡费", "percent": 0.1}]}
    refused = client.put(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/form", json={"data": sneaky},
                         headers=t["olga"])
    assert refused.status_code == 403 and refused.json()["field"] == "rates"
    edited = copy.deepcopy(BASE)
    edited["basic"]["registered_address"] = "上海市浦东新区"
    ok(client.put(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/form", json={"data": edited},
                  headers=t["olga"]))
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/approve",
                         json={"comment": "录入完成"}, headers=t["olga"]))["position"]

    # OPS review rejects back to OPS entry, which resubmits.
    task = todo_task(client, "olga", t["olga"], pos)
    assert task["node"] == "ops_review"
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/return",
                         json={"target": "ops_entry", "comment": "证照不清晰"}, headers=t["olga"]))["position"]
    task = todo_task(client, "olga", t["olga"], pos)
    assert task["node"] == "ops_entry"
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/approve", json={},
                         headers=t["olga"]))["position"]
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/tasks/{todo_task(client, 'olga', t['olga'], pos)['task_id']}"
                         "/approve", json={}, headers=t["olga"]))["position"]

    # CLEARING configures rates, then its review sends it back to SALES: rate beyond authority.
    task = todo_task(client, "clara", t["clara"], pos)
    rates = copy.deepcopy(edited)
    rates["rates"] = {"fee_items": [{"id": "r1", "product": "VCC", "item": "交易手续费", "percent": 2.5}]}
    ok(client.put(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/form", json={"data": rates},
                  headers=t["clara"]))
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/approve", json={},
                         headers=t["clara"]))["position"]
    task = todo_task(client, "clara", t["clara"], pos)
    assert task["node"] == "clearing_review"
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/return",
                         json={"target": "start", "comment": "费率超出授权范围"}, headers=t["clara"]))["position"]
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/resubmit", json={}, headers=t["sam"]))["position"]
    for who in ("olga", "olga", "clara", "clara"):
        task = todo_task(client, who, t[who], pos)
        pos = ok(client.post(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/approve", json={},
                             headers=t[who]))["position"]

    # FINANCE enters the bank account; only FINANCE sees it unmasked.
    task = todo_task(client, "fiona", t["fiona"], pos)
    assert task["node"] == "finance_entry"
    bank = copy.deepcopy(rates)
    bank["settlement"] = {"bank_name": "招商银行", "bank_account": "6222021234567890128", "settlement_cycle": "T+1"}
    pos = ok(client.put(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/form", json={"data": bank},
                        headers=t["fiona"]))["position"]
    seen = {who: ok(client.get(f"/api/v1/flows/instances/{iid}", params={"wait_for_position": pos},
                               headers=t[who]))["data"]["settlement"]["bank_account"] for who in ("fiona", "olga")}
    assert seen == {"fiona": "6222021234567890128", "olga": "6222****0128"}
    # the timeline's form edits obey the same field rules (review C1)
    trail = ok(client.get(f"/api/v1/flows/instances/{iid}", headers=t["olga"]))["timeline"]
    assert "6222021234567890128" not in json.dumps(trail, ensure_ascii=False)
    assert "6222****0128" in json.dumps(trail, ensure_ascii=False)
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/approve", json={},
                         headers=t["fiona"]))["position"]
    task = todo_task(client, "fiona", t["fiona"], pos)
    assert task["node"] == "finance_review"
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/approve",
                         json={"comment": "最终审批通过"}, headers=t["fiona"]))["position"]
    task = todo_task(client, "sam", t["sam"], pos)  # the tenant signs (the initiator's task here)
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/tasks/{task['task_id']}/approve", json={},
                         headers=t["sam"]))["position"]
    detail = ok(client.get(f"/api/v1/flows/instances/{iid}", params={"wait_for_position": pos}, headers=t["sam"]))
    assert detail["status"] == "completed" and detail["current_nodes"] == []
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds.count("returned") == 2 and "form_edited" in kinds and kinds[-1] == "completed"
    assert "n_end" in detail["mermaid"] and "current" not in detail["mermaid"].splitlines()[-1]
    olga_trail = ok(client.get(f"/api/v1/audit/aggregates/{iid}/trail", headers=ADMIN))["items"]
    assert any(e["event_type"] == "FormEdited" for e in olga_trail)


def test_batch_approval_answers_per_item(client, signing):
    t = signing
    ids = [ok(client.post("/api/v1/flows/instances", headers=t["sam"], json={
        "definition": "tenant_signing", "subject": "institution", "title": f"T{i}", "data": START}), 201)
        for i in range(3)]
    todo = ok(client.get("/api/v1/flows/todo", params={"wait_for_position": ids[-1]["position"]},
                         headers=t["olga"]))
    items = [{"instance_id": i["instance_id"], "task_id": i["task_id"]} for i in todo["items"]]
    items.append({"instance_id": ids[0]["id"], "task_id": "k999"})
    results = ok(client.post("/api/v1/flows/tasks/batch", json={"action": "approve", "items": items},
                             headers=t["olga"]))
    assert [r["status"] for r in results] == [200, 200, 200, 404]  # an unknown task is not found
    assert results[-1]["code"] == "task_not_found"
    assert todo["counts"] == [{"business_type": "tenant_signing", "open": 3, "urgent": 0}]


def test_a_node_hides_fields_from_its_handlers(client, signing, live_container):
    t = signing
    hide_commercial_at_ops_entry(live_container)
    started = ok(client.post("/api/v1/flows/instances", headers=t["sam"], json={
        "definition": "tenant_signing", "subject": "institution", "title": "hidden", "data": START}), 201)
    olga = ok(client.get(f"/api/v1/flows/instances/{started['id']}",
                         params={"wait_for_position": started["position"]}, headers=t["olga"]))
    assert "commercial" not in olga["data"] and olga["hidden_fields"] == ["commercial"]
    sam = ok(client.get(f"/api/v1/flows/instances/{started['id']}", headers=t["sam"]))
    assert sam["data"]["commercial"] == BASE["commercial"] and sam["hidden_fields"] == []
    # review M6: still hidden from her once she has decided and the flow has moved on
    task = todo_task(client, "olga", t["olga"], started["position"])
    pos = ok(client.post(f"/api/v1/flows/instances/{started['id']}/tasks/{task['task_id']}/approve", json={},
                         headers=t["olga"]))["position"]
    later = ok(client.get(f"/api/v1/flows/instances/{started['id']}", params={"wait_for_position": pos},
                          headers=t["olga"]))
    assert "commercial" not in later["data"] and "commercial" in later["hidden_fields"]


def test_a_field_masked_for_you_cannot_be_written(client, signing):
    t = signing  # review H4: the field rules of flows.instance apply to edits too
    started = ok(client.post("/api/v1/flows/instances", headers=t["sam"], json={
        "definition": "tenant_signing", "subject": "institution", "title": "mask", "data": START}), 201)
    task = todo_task(client, "olga", t["olga"], started["position"])
    sent = copy.deepcopy(BASE)
    sent["settlement"] = {"bank_name": "招商银行", "bank_account": "6222021234567890128", "settlement_cycle": "T+1"}
    refused = client.put(f"/api/v1/flows/instances/{started['id']}/tasks/{task['task_id']}/form",
                         json={"data": sent}, headers=t["olga"])
    assert refused.status_code == 403 and refused.json()["field"] == "bank_account"


def test_a_flow_starts_only_for_a_fund_account_in_your_scope(client, signing, live_container):
    app = live_container  # review M5
    app.access.create_department(SETUP, "BR", "Branch", "branch", None)
    app.forms.sync_customers(SETUP, [{"fund_account": "88009999", "name": "别家客户", "department_code": "BR"},
                                     {"fund_account": "88001111", "name": "本部客户", "department_code": "HQ"}])
    app.runners["forms.catalogue"].catch_up()
    body = {"definition": "tenant_signing", "subject": "institution", "title": "x", "data": START,
            "fund_account": "88009999"}
    refused = client.post("/api/v1/flows/instances", headers=signing["sam"], json=body)
    assert refused.status_code == 404 and refused.json()["field"] == "fund_account"
    ok(client.post("/api/v1/flows/instances", headers=signing["sam"], json={**body, "fund_account": "88001111"}),
       201)


def test_lists_follow_their_filters_and_an_administrator_edits_the_form(client, signing):
    t = signing  # review L1, L2, L3
    started = ok(client.post("/api/v1/flows/instances", headers=t["sam"], json={
        "definition": "tenant_signing", "subject": "institution", "title": "admin", "data": START}), 201)
    iid, pos = started["id"], started["position"]
    mine = ok(client.get("/api/v1/flows/initiated", params={"wait_for_position": pos}, headers=t["sam"]))["items"]
    assert [r["id"] for r in mine] == [iid] and "tokens" not in mine[0]
    todo = ok(client.get("/api/v1/flows/todo", params={"node": "nowhere"}, headers=t["olga"]))
    assert todo["items"] == [] and todo["counts"] == []
    etag = client.get(f"/api/v1/flows/instances/{iid}", headers=ADMIN).headers["ETag"]
    fixed = copy.deepcopy(BASE)
    fixed["basic"]["tenant_name_cn"] = "甲公司(更正)"
    body = {"node": "ops_entry", "data": fixed, "reason": "工商登记名称更正"}
    assert client.post(f"/api/v1/flows/instances/{iid}/form", json=body, headers=t["olga"]).status_code == 403
    assert client.post(f"/api/v1/flows/instances/{iid}/form", json={**body, "node": "ghost"},
                       headers={**ADMIN, "If-Match": etag}).status_code == 422
    pos = ok(client.post(f"/api/v1/flows/instances/{iid}/form", json=body,
                         headers={**ADMIN, "If-Match": etag}))["position"]
    detail = ok(client.get(f"/api/v1/flows/instances/{iid}", params={"wait_for_position": pos}, headers=ADMIN))
    assert detail["data"]["basic"]["tenant_name_cn"] == "甲公司(更正)"
