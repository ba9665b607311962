"""Flow definitions through the API: checked publishing, versions, diagrams."""
from __future__ import annotations

import copy

from interfaces.demo_flows import TENANT_SIGNING_FLOW
from interfaces.demo_forms import TENANT_SIGNING
from tests.engines import ADMIN_HEADERS as ADMIN


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def test_design_publish_and_draw_the_tenant_signing_flow(client):
    ok(client.post("/api/v1/access/business-lines", json={"code": "brokerage", "name": "B"}, headers=ADMIN), 201)
    ok(client.post("/api/v1/forms/business-types", headers=ADMIN, json={
        "code": "tenant_signing", "name": "Tenant signing", "business_line": "brokerage",
        "subjects": ["institution"]}), 201)
    ok(client.put("/api/v1/forms/business-types/tenant_signing/drafts/institution", json={"form": TENANT_SIGNING},
                  headers=ADMIN))
    created = ok(client.post("/api/v1/flows/definitions", headers=ADMIN, json={
        "key": "tenant_signing", "name": "Tenant signing", "business_type": "tenant_signing"}), 201)

    broken = copy.deepcopy(TENANT_SIGNING_FLOW)
    broken["edges"].append({"source": "ops_review", "target": "nowhere"})
    broken["nodes"][1]["assignees"] = []
    ok(client.put("/api/v1/flows/definitions/tenant_signing/draft", json={"graph": broken},
                  headers={**ADMIN, "If-Match": f'"{created["version"]}"'}))
    refused = client.post("/api/v1/flows/definitions/tenant_signing/publish", headers=ADMIN)
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_flow_graph"
    assert {e["path"] for e in refused.json()["errors"]} == {"edges[10]"}

    malformed = client.put("/api/v1/flows/definitions/tenant_signing/draft", headers=ADMIN,
                           json={"graph": {"nodes": [{"id": "Bad Id", "type": "teleport"}], "edges": []}})
    assert malformed.status_code == 422 and malformed.json()["code"] == "invalid_flow_graph"

    ok(client.put("/api/v1/flows/definitions/tenant_signing/draft", json={"graph": TENANT_SIGNING_FLOW},
                  headers=ADMIN))
    published = ok(client.post("/api/v1/flows/definitions/tenant_signing/publish", headers=ADMIN))
    assert published["published_version"] == 1
    version = ok(client.get("/api/v1/flows/definitions/tenant_signing/versions/1", headers=ADMIN))
    assert version["graph"] == TENANT_SIGNING_FLOW and "n_ops_review --> n_clearing_entry" in version["mermaid"]
    text = client.get("/api/v1/flows/definitions/tenant_signing/versions/1/diagram.mmd", headers=ADMIN).text
    assert text.startswith("flowchart TD")
    listed = ok(client.get("/api/v1/flows/definitions", params={"wait_for_position": published["position"]},
                           headers=ADMIN))
    assert [d["latest_version"] for d in listed["items"]] == [1] and listed["next_cursor"] is None
    again = client.post("/api/v1/flows/definitions/tenant_signing/publish", headers=ADMIN)
    assert again.status_code == 422 and "unchanged" in again.json()["detail"]
