"""The HTTP API end to end: authentication, problem details, concurrency, read-your-writes."""
from __future__ import annotations

import re
import threading
import uuid

from tests.legacy import legacy_department

OPEN = {"/health", "/ready"}
CREDENTIAL_EXCHANGE = {"/api/v1/auth/login", "/api/v1/auth/refresh"}  # public by nature: they take credentials
# The signer's one-time links (ADR 0022): the link in the path is the credential.
SIGNING_LINKS = {"/api/v1/sign/{token}", "/api/v1/sign/{token}/document"}


def test_every_endpoint_but_health_requires_a_bearer_token(client):
    spec = client.get("/openapi.json").json()
    assert len(spec["paths"]) >= 8
    for template, operations in spec["paths"].items():
        path = re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), template)
        for method in operations:
            response = client.request(method.upper(), path, json={})
            if template in OPEN:
                assert response.status_code in (200, 503), (method, path)
            elif template in CREDENTIAL_EXCHANGE:
                assert response.status_code == 422, (method, path)  # no credentials in the body
            elif template in SIGNING_LINKS:
                assert response.status_code in (404, 422), (method, path)  # no such link, or no consent
            else:
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["code"] == "unauthenticated"


def test_a_wrong_or_malformed_token_is_refused(client):
    for header in ("Bearer wrong", "Basic abc", "Bearer ", "Bearer " + "x" * 5000):
        r = client.get("/api/v1/projections", headers={"Authorization": header})
        assert r.status_code == 401, header


def test_create_then_read_your_write_with_etag(client, auth):
    r = client.post("/api/v1/access/departments", json={"code": "SH01", "name": "Shanghai", "kind": "branch"},
                    headers={**auth, "X-Correlation-ID": "ticket-77"})
    assert r.status_code == 201
    body = r.json()
    assert r.headers["etag"] == '"1"' and int(r.headers["x-event-position"]) == body["position"]
    assert r.headers["x-correlation-id"] == "ticket-77"
    got = client.get(f"/api/v1/access/departments/{body['id']}", params={"wait_for_position": body["position"]},
                     headers=auth)
    assert got.status_code == 200 and got.json()["name"] == "Shanghai" and got.headers["etag"] == '"1"'
    trail = client.get(f"/api/v1/audit/aggregates/{body['id']}/trail", headers=auth).json()["items"]
    assert trail[0]["correlation_id"] == "ticket-77" and trail[0]["actor"] == "admin:bootstrap"


def test_concurrent_renames_with_the_same_etag_one_succeeds_one_409(client, auth):
    dept = client.post("/api/v1/access/departments", json={"code": "SH01", "name": "Shanghai", "kind": "branch"},
                       headers=auth).json()
    barrier = threading.Barrier(2)
    statuses = {}

    def rename(name):
        barrier.wait()
        r = client.patch(f"/api/v1/access/departments/{dept['id']}", json={"name": name},
                         headers={**auth, "If-Match": '"1"'})
        statuses[name] = (r.status_code, r.json())

    threads = [threading.Thread(target=rename, args=(n,)) for n in ("A", "B")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    codes = sorted(s for s, _ in statuses.values())
    assert codes == [200, 409], statuses
    loser = next(b for s, b in statuses.values() if s == 409)
    assert loser["code"] in ("stale_version", "concurrent_modification")
    winner = next(n for n, (s, _) in statuses.items() if s == 200)
    final = client.get(f"/api/v1/access/departments/{dept['id']}",
                       params={"wait_for_position": max(b.get("position", 0) for _, b in statuses.values())},
                       headers=auth).json()
    assert final["name"] == winner and final["version"] == 2


def test_errors_are_problem_details_naming_the_field(client, auth):
    bad = client.post("/api/v1/access/departments", json={"code": "bad code", "name": "x", "kind": "branch"},
                      headers=auth)
    assert bad.status_code == 422 and bad.json()["field"] == "code"
    assert bad.headers["content-type"] == "application/problem+json"
    missing_parent = client.post("/api/v1/access/departments",
                                 json={"code": "X", "name": "x", "kind": "branch", "parent_id": str(uuid.uuid4())},
                                 headers=auth)
    assert missing_parent.status_code == 404 and missing_parent.json()["field"] == "parent_id"
    not_json = client.post("/api/v1/access/departments", content=b"{nope", headers={**auth, "content-type": "application/json"})
    assert not_json.status_code == 422
    bad_if_match = client.patch(f"/api/v1/access/departments/{uuid.uuid4()}", json={"name": "n"},
                                headers={**auth, "If-Match": "yesterday"})
    assert bad_if_match.status_code == 400 and bad_if_match.json()["field"] == "If-Match"
    unknown = client.get(f"/api/v1/access/departments/{uuid.uuid4()}", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    cursor = client.get("/api/v1/access/departments", params={"cursor": "!!"}, headers=auth)
    assert cursor.status_code == 400 and cursor.json()["field"] == "cursor"


def test_oversize_bodies_are_refused_before_they_are_read(client, auth):
    r = client.post("/api/v1/access/departments", content=b"x" * 2_000_000,
                    headers={**auth, "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


def test_waiting_for_a_position_beyond_the_log_is_a_400(client, auth):
    r = client.get("/api/v1/access/departments", params={"wait_for_position": 10_000}, headers=auth)
    assert r.status_code == 400 and r.json()["field"] == "wait_for_position"


def test_pagination_walks_every_department_once(client, auth):
    last = None
    for i in range(7):
        last = client.post("/api/v1/access/departments", json={"code": f"D{i}", "name": f"Dept {i}", "kind": "other"},
                           headers=auth).json()
    seen, cursor = [], None
    while True:
        params = {"limit": 3, "wait_for_position": last["position"]}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/access/departments", params=params, headers=auth).json()
        seen += [d["code"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"D{i}" for i in range(7)]


def test_readiness_metrics_and_projection_status(client, auth):
    ready = client.get("/ready").json()
    assert ready == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok", "clickhouse": "ok"},
                     "rebuilding": {}}  # no projection of this release waits for its blue/green rebuild
    client.post("/api/v1/access/departments", json={"code": "X", "name": "X", "kind": "other"}, headers=auth)
    metrics = client.get("/metrics", headers=auth).text
    for name in ("ledgerflow_http_request_duration_seconds_bucket", "ledgerflow_projection_lag_events",
                 "ledgerflow_events_appended_total 1.0"):
        assert name in metrics
    names = {p["name"] for p in client.get("/api/v1/projections", headers=auth).json()}
    from projections.registry import all_projections

    assert names == {p.name for p in all_projections()} and "analytics.event_facts" in names


def test_audit_state_as_of_and_verify(client, auth, live_container):
    dept = client.post("/api/v1/access/departments", json={"code": "X", "name": "First", "kind": "other"},
                       headers=auth).json()
    client.patch(f"/api/v1/access/departments/{dept['id']}", json={"name": "Second"}, headers=auth)
    v1 = client.get(f"/api/v1/audit/aggregates/{dept['id']}/state", params={"version": 1}, headers=auth).json()
    assert v1["state"]["name"] == "First"
    naive = client.get(f"/api/v1/audit/aggregates/{dept['id']}/state", params={"at": "2026-01-01T00:00:00"},
                       headers=auth)
    assert naive.status_code == 422 and naive.json()["field"] == "at"
    before = client.get(f"/api/v1/audit/aggregates/{dept['id']}/state", params={"at": "2000-01-01T00:00:00Z"},
                        headers=auth)
    assert before.status_code == 404
    assert client.post("/api/v1/audit/verify", headers=auth).json()["ok"] is True
    anchored = live_container.audit.checkpoint(force=True)
    answer = client.post("/api/v1/audit/verify", params={"since_checkpoint": "true"}, headers=auth).json()
    assert answer["ok"] is True and answer["checkpoint"]["position"] == anchored.position
    assert answer["walked_after"] == anchored.position and answer["checkpoint"]["hash"] == anchored.hash.hex()


def test_openapi_documents_every_operation(client):
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method} {path} lacks a summary"


def test_a_parked_event_is_listed_and_retried_over_http(client, auth, live_container):
    from domain.shared.context import CommandContext

    ctx = CommandContext("admin:test", "script")
    result = legacy_department(live_container, ctx, "BAD", "bad\x00name")  # written by an older release
    runner = live_container.runners["access.departments"]
    runner.catch_up()
    status = {p["name"]: p for p in client.get("/api/v1/projections", headers=auth).json()}
    assert status["access.departments"]["parked"] == 1 and status["access.departments"]["lag"] == 0
    (parked,) = client.get("/api/v1/projections/access.departments/parked", headers=auth).json()
    assert parked["originator_id"] == str(result.id) and parked["position"] == result.position
    assert "ledgerflow_projection_parked_events{projection=\"access.departments\"} 1.0" in client.get(
        "/metrics", headers=auth).text
    retried = client.post("/api/v1/projections/access.departments/parked/retry", headers=auth)
    assert retried.status_code == 200 and retried.json() == {"applied": 0, "parked": 1}
    assert client.post("/api/v1/projections/nope/parked/retry", headers=auth).status_code == 404
    assert client.post("/api/v1/projections/analytics.event_facts/parked/retry", headers=auth).status_code == 422


def test_every_read_declares_a_typed_response(client):
    """A client generates its models from the OpenAPI document: no read answers an untyped object."""
    spec = client.get("/openapi.json").json()
    untyped = []
    for template, operations in spec["paths"].items():
        for method, operation in operations.items():
            ok_response = operation["responses"].get("200") or operation["responses"].get("201") or {}
            schema = ok_response.get("content", {}).get("application/json", {}).get("schema")
            if schema is None:
                continue  # files, CSV, text: declared with their media types
            if schema.get("type") == "array":
                schema = schema.get("items", {})
            if "$ref" not in schema and "properties" not in schema and "anyOf" not in schema:
                untyped.append(f"{method.upper()} {template}")
    assert untyped == []
