"""An OA or mobile client acting for an operator (ADR 0016): an API token holding
``oa.act_on_behalf`` sends ``X-On-Behalf-Of: <login>`` and runs as that operator — within what
the token was issued — only while the operator's delegation covers the request."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from tests.e2e.board_firm import ADMIN, ok, start

FLOWS = "/api/v1/flows"
MINE = "/api/v1/me/delegations"
CLIENT = ["oa.act_on_behalf", "flows.instances.view", "flows.tasks.handle"]


def _token(firm, permissions=CLIENT, lines=("brokerage",), name="oa-client") -> tuple[str, dict]:
    issued = ok(firm["client"].post("/api/v1/access/api-tokens", headers=ADMIN, json={
        "name": name, "permissions": list(permissions), "business_lines": list(lines)}), 201)
    return issued["id"], {"Authorization": f"Bearer {issued['token']}"}


def _grant(firm, who: str, token_id: str, scopes: list[str], **extra) -> dict:
    return ok(firm["client"].post(MINE, headers=firm["tokens"][who],
                                  json={"api_token_id": token_id, "scopes": scopes, **extra}), 201)


def _as(headers: dict, login: str) -> dict:
    return {**headers, "X-On-Behalf-Of": login}


def _todo(firm, headers: dict, position: int | None = None):
    params = {"wait_for_position": position} if position else {}
    return firm["client"].get(f"{FLOWS}/todo", headers=headers, params=params)


def _refused(response, code: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.text


def _olgas_task(firm) -> tuple[dict, int]:
    """Sam starts a signing; its first task is Olga's (OPS). Returns the todo item and a position."""
    started = start(firm, "sam", "甲")
    item = ok(_todo(firm, firm["tokens"]["olga"], started["position"]))["items"][0]
    return item, started["position"]


def _approve(firm, headers: dict, item: dict):
    return firm["client"].post(f"{FLOWS}/instances/{item['instance_id']}/tasks/{item['task_id']}/approve",
                               headers=headers, json={"comment": "同意"})


def test_a_token_without_the_permission_cannot_act_on_behalf(firm):
    _, plain = _token(firm, permissions=["flows.instances.view", "flows.tasks.handle"], name="plain")
    _refused(_todo(firm, _as(plain, "olga")), "delegation_not_permitted")
    # An operator's own session never acts for anyone else, whatever it holds.
    _refused(_todo(firm, _as(firm["tokens"]["max"], "olga")), "delegation_not_permitted")


def test_a_token_with_the_permission_but_no_grant_is_refused_delegation_missing(firm):
    _, client = _token(firm)
    _refused(_todo(firm, _as(client, "olga")), "delegation_missing")
    _refused(_todo(firm, _as(client, "nobody-here")), "delegation_missing")  # unknown logins read the same


def test_a_todo_read_grant_lists_the_operators_todo_but_cannot_approve(firm):
    item, position = _olgas_task(firm)
    token_id, client = _token(firm)
    _grant(firm, "olga", token_id, ["todo.read"])
    todo = ok(_todo(firm, _as(client, "olga"), position))
    assert [(t["instance_id"], t["task_id"]) for t in todo["items"]] == [(item["instance_id"], item["task_id"])]
    detail = ok(firm["client"].get(f"{FLOWS}/instances/{item['instance_id']}", headers=_as(client, "olga")))
    assert detail["id"] == item["instance_id"]
    me = ok(firm["client"].get("/api/v1/me", headers=_as(client, "olga")))
    assert (me["actor"], me["kind"], me["via"]) == ("operator:olga", "delegated", f"api_token:{token_id}")
    _refused(_approve(firm, _as(client, "olga"), item), "delegation_scope_missing")
    assert ok(_todo(firm, client))["items"] == []  # without the header the token is itself: no tasks


def test_a_tasks_act_grant_approves_and_the_event_names_operator_and_token(firm):
    item, _ = _olgas_task(firm)
    token_id, client = _token(firm)
    _grant(firm, "olga", token_id, ["todo.read", "tasks.act"])
    approved = ok(_approve(firm, _as(client, "olga"), item))
    events = list(firm["app"].flows.events.get(approved["id"]))
    decision = next(e for e in events if type(e).__name__ == "TaskApproved")
    assert (decision.actor, decision.via) == ("operator:olga", f"api_token:{token_id}")
    # What the approval set off in the same command (the next task) says so too; Sam's start does not.
    after = events[events.index(decision):]
    assert {(e.actor, e.via) for e in after} == {("operator:olga", f"api_token:{token_id}")}
    assert events[0].actor == "operator:sam" and events[0].via is None
    trail = ok(firm["client"].get(f"/api/v1/audit/aggregates/{approved['id']}/trail", headers=ADMIN))["items"]
    decided = [e for e in trail if e["event_type"] == "TaskApproved"]
    assert [(e["actor"], e["via"]) for e in decided] == [("operator:olga", f"api_token:{token_id}")]
    timeline = ok(firm["client"].get(f"/api/v1/flows/instances/{approved['id']}/timeline", headers=ADMIN,
                                     params={"wait_for_position": approved["position"]}))["items"]
    (line,) = [e for e in timeline if e["kind"] == "approved"]
    assert (line["actor"], line["via"]) == ("operator:olga", f"api_token:{token_id}")


def test_a_revoked_grant_stops_working_at_once(firm):
    item, position = _olgas_task(firm)
    token_id, client = _token(firm)
    grant = _grant(firm, "olga", token_id, ["todo.read", "tasks.act"])
    assert ok(_todo(firm, _as(client, "olga"), position))["items"]
    ok(firm["client"].delete(f"{MINE}/{grant['id']}", headers=firm["tokens"]["olga"]))
    _refused(_todo(firm, _as(client, "olga")), "delegation_missing")
    _refused(_approve(firm, _as(client, "olga"), item), "delegation_missing")
    # Granted again, then revoked by an access administrator: the same.
    _grant(firm, "olga", token_id, ["todo.read"])
    assert ok(_todo(firm, _as(client, "olga")))["items"]
    ok(firm["client"].delete(f"/api/v1/access/delegations/{grant['id']}", headers=ADMIN))
    _refused(_todo(firm, _as(client, "olga")), "delegation_missing")


def test_an_expired_grant_stops_working_at_once(firm):
    token_id, client = _token(firm)
    soon = datetime.now(timezone.utc) + timedelta(seconds=2)
    _grant(firm, "olga", token_id, ["todo.read"], expires_at=soon.isoformat())
    ok(_todo(firm, _as(client, "olga")))
    time.sleep(max(0.0, (soon - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    _refused(_todo(firm, _as(client, "olga")), "delegation_expired")


def test_the_token_cannot_exceed_what_it_was_issued(firm):
    item, position = _olgas_task(firm)
    viewer_id, viewer = _token(firm, permissions=["oa.act_on_behalf", "flows.instances.view"], name="viewer")
    _grant(firm, "olga", viewer_id, ["todo.read", "tasks.act"])
    r = _approve(firm, _as(viewer, "olga"), item)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")  # Olga may handle tasks; the token may not
    other_id, other_line = _token(firm, lines=[], name="no-lines")
    _grant(firm, "olga", other_id, ["todo.read", "tasks.act"])
    assert ok(_todo(firm, _as(other_line, "olga"), position))["items"] == []  # outside the token's lines
    assert _approve(firm, _as(other_line, "olga"), item).status_code == 404


def test_one_operators_grant_does_not_let_the_token_act_for_another(firm):
    item, position = _olgas_task(firm)
    token_id, client = _token(firm)
    _grant(firm, "max", token_id, ["todo.read", "tasks.act"])  # Max (a monitor) delegated; Olga did not
    _refused(_todo(firm, _as(client, "olga")), "delegation_missing")
    _refused(_approve(firm, _as(client, "olga"), item), "delegation_missing")
    r = _approve(firm, _as(client, "max"), item)  # as Max it is not his task to decide
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


def test_the_header_is_refused_outside_the_todo_and_task_endpoints(firm):
    token_id, client = _token(firm)
    _grant(firm, "olga", token_id, ["todo.read", "tasks.act"])
    _refused(firm["client"].get("/api/v1/access/operators", headers=_as(client, "olga")),
             "delegation_not_allowed_here")
    _refused(firm["client"].post(MINE, headers=_as(client, "olga"), json={"api_token_id": token_id,
                                                                          "scopes": ["tasks.act"]}),
             "delegation_not_allowed_here")
    schema = ok(firm["client"].get("/openapi.json"))
    approve = schema["paths"][f"{FLOWS}/instances/{{instance_id}}/tasks/{{task_id}}/approve"]["post"]
    assert approve["x-delegation-scope"] == "tasks.act"
    assert "X-On-Behalf-Of" in [p["name"] for p in approve["parameters"]]


def test_operators_manage_only_their_own_delegations(firm):
    a_id, client_a = _token(firm, name="oa-a")
    b_id, _ = _token(firm, name="oa-b")
    plain_id, _ = _token(firm, permissions=["flows.instances.view"], name="plain")
    olga = firm["tokens"]["olga"]
    clients = ok(firm["client"].get("/api/v1/me/delegation-clients", headers=olga))
    assert {c["name"] for c in clients} == {"oa-a", "oa-b"}
    r = firm["client"].post(MINE, headers=olga, json={"api_token_id": plain_id, "scopes": ["todo.read"]})
    assert (r.status_code, r.json()["field"]) == (422, "api_token_id")
    far = (datetime.now(timezone.utc) + timedelta(days=400)).isoformat()
    r = firm["client"].post(MINE, headers=olga, json={"api_token_id": a_id, "scopes": ["todo.read"],
                                                      "expires_at": far})
    assert (r.status_code, r.json()["field"]) == (422, "expires_at")
    first = _grant(firm, "olga", a_id, ["todo.read"])
    _grant(firm, "olga", b_id, ["tasks.act"])
    page = ok(firm["client"].get(MINE, headers=olga, params={"limit": 1}))
    rest = ok(firm["client"].get(MINE, headers=olga, params={"limit": 1, "cursor": page["next_cursor"]}))
    assert [g["api_token_name"] for g in page["items"] + rest["items"]] == ["oa-a", "oa-b"]
    assert rest["next_cursor"] is None and page["items"][0]["status"] == "active"
    assert ok(firm["client"].get(MINE, headers=firm["tokens"]["sam"]))["items"] == []
    r = firm["client"].delete(f"{MINE}/{first['id']}", headers=firm["tokens"]["sam"])
    assert r.status_code == 404  # Sam cannot revoke Olga's grant
    _refused_plain = firm["client"].get(MINE, headers=client_a)  # a token has no delegations of its own
    assert _refused_plain.status_code == 403
    everyone = ok(firm["client"].get("/api/v1/access/delegations", headers=ADMIN))["items"]
    assert {(g["operator"], g["api_token_name"]) for g in everyone} == {("operator:olga", "oa-a"),
                                                                         ("operator:olga", "oa-b")}
