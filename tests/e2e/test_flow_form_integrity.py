"""Issue 12 over HTTP: the start held to its node's field permissions, errors that say what
happened, segregation of duties answered 403 with its code, and a flow returned to its initiator
in their todo."""
from __future__ import annotations

import copy

from tests.e2e.signing_firm import BASE, PASSWORD, SETUP, START, ok, todo_task
from tests.engines import ADMIN_HEADERS as ADMIN
from tests.flows import PLAIN_SIGNING_FLOW as TENANT_SIGNING_FLOW

URL = "/api/v1/flows/instances"


def _start(client, headers, data=START, definition="tenant_signing"):
    return client.post(URL, headers=headers, json={"definition": definition, "subject": "institution",
                                                   "title": "甲公司签约", "data": data})


def test_the_start_refuses_read_only_sections_and_does_not_demand_later_ones(client, signing):
    rebate = {**START, "rates": {"fee_items": [{"id": "r1", "product": "VCC", "item": "返点", "percent": 90}]}}
    refused = _start(client, signing["sam"], rebate)  # the start node makes "rates" read-only
    assert refused.status_code == 403 and refused.json()["field"] == "rates"
    bank = {**START, "settlement": {"bank_name": "x", "bank_account": "6222021234567890128",
                                    "settlement_cycle": "T+1"}}
    refused = _start(client, signing["sam"], bank)  # the field rule masking it for SALES holds at start
    assert refused.status_code == 403 and refused.json()["field"] == "bank_account"
    ok(_start(client, signing["sam"]), 201)  # "basic" is OPS's: not demanded from SALES


def test_errors_say_what_happened(client, signing):
    started = ok(_start(client, signing["sam"]), 201)
    unknown = client.post(f"{URL}/{started['id']}/tasks/k999/approve", json={}, headers=signing["olga"])
    assert unknown.status_code == 404 and unknown.json()["code"] == "task_not_found"
    ok(client.post(f"{URL}/{started['id']}/withdraw", json={"reason": "改期"}, headers=signing["sam"]))
    again = client.post(f"{URL}/{started['id']}/terminate", json={"reason": "x"}, headers=ADMIN)
    assert again.status_code == 409 and again.json()["code"] == "instance_not_running"


def test_a_reviewer_who_entered_the_data_gets_403_segregation_of_duties(client, signing, live_container):
    app = live_container
    first = ok(_start(client, signing["sam"]), 201)
    hq = ok(client.get(f"{URL}/{first['id']}", params={"wait_for_position": first["position"]},
                       headers=ADMIN))["department_id"]
    ok(client.post(f"{URL}/{first['id']}/withdraw", json={"reason": "only to learn the department"},
                   headers=signing["sam"]))
    oscar = app.access.create_operator(SETUP, "oscar", "oscar", hq, None, None, PASSWORD).id
    app.access.grant_roles(SETUP, oscar, ["ops"])
    app.access.set_business_lines(SETUP, oscar, ["brokerage"])
    app.access.set_data_scope(SETUP, oscar, [{"department_id": str(hq), "include_children": True}], [])
    app.runners["access.principals"].catch_up()
    flow = copy.deepcopy(TENANT_SIGNING_FLOW)
    for node in flow["nodes"]:
        if node["id"] == "ops_review":
            node["independent_of"] = ["ops_entry"]
    app.flows.save_draft(SETUP, "tenant_signing", flow, {"deduplication": "approve_consecutive",
                                                         "empty_assignee": "to_admin"}, None)
    app.flows.publish(SETUP, "tenant_signing", None)
    started = ok(_start(client, signing["sam"]), 201)
    iid = started["id"]
    task = todo_task(client, "olga", signing["olga"], started["position"])
    ok(client.put(f"{URL}/{iid}/tasks/{task['task_id']}/form", json={"data": BASE}, headers=signing["olga"]))
    pos = ok(client.post(f"{URL}/{iid}/tasks/{task['task_id']}/approve", json={}, headers=signing["olga"]))["position"]
    detail = ok(client.get(f"{URL}/{iid}", params={"wait_for_position": pos}, headers=ADMIN))
    review = next(t for t in detail["tasks"] if t["node"] == "ops_review")
    assert review["status"] == "open" and "operator:olga" not in review["candidates"]  # never de-duplicated
    refused = client.post(f"{URL}/{iid}/tasks/{review['task_id']}/approve", json={}, headers=signing["olga"])
    assert refused.status_code == 403 and refused.json()["code"] == "segregation_of_duties"


def test_a_flow_returned_to_its_initiator_is_in_their_todo(client, signing):
    started = ok(_start(client, signing["sam"]), 201)
    task = todo_task(client, "olga", signing["olga"], started["position"])
    pos = ok(client.post(f"{URL}/{started['id']}/tasks/{task['task_id']}/return",
                         json={"target": "previous", "comment": "请补充"}, headers=signing["olga"]))["position"]
    detail = ok(client.get(f"{URL}/{started['id']}", params={"wait_for_position": pos}, headers=signing["sam"]))
    assert detail["current_handlers"] == ["operator:sam"]
    mine = todo_task(client, "sam", signing["sam"], pos)
    assert (mine["node"], mine["mode"]) == ("start", "resubmit")
    pos = ok(client.post(f"{URL}/{started['id']}/resubmit", json={}, headers=signing["sam"]))["position"]
    assert todo_task(client, "olga", signing["olga"], pos)["node"] == "ops_entry"


def test_a_retried_approval_with_its_idempotency_key_gets_the_first_answer_not_already_acted(client, signing):
    # The approval checks its permissions inside the application, so the retry runs into "task
    # already acted" before its key is looked up: it must still be answered as the first time.
    started = ok(_start(client, signing["sam"]), 201)
    task = todo_task(client, "olga", signing["olga"], started["position"])
    url = f"{URL}/{started['id']}/tasks/{task['task_id']}/approve"
    keyed = {**signing["olga"], "Idempotency-Key": f"approve-{task['task_id']}"}
    ok(client.put(f"{URL}/{started['id']}/tasks/{task['task_id']}/form", json={"data": BASE}, headers=signing["olga"]))
    first = client.post(url, json={}, headers=keyed)
    retry = client.post(url, json={}, headers=keyed)
    unkeyed = client.post(url, json={}, headers=signing["olga"])

    assert first.status_code == 200, first.text
    assert (retry.status_code, retry.json()) == (200, first.json())
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert unkeyed.status_code in (409, 422)  # without the key, the second approval is refused
