"""Retries with Idempotency-Key over HTTP (ADR 0025): a retried command is answered as the first
time and recorded once; a key reused for another request, a key still running and an answer
that was not kept are answered truthfully; keys belong to their caller and expire. (Embedded
engines only, like every e2e test: the same-transaction guarantee under it runs in both modes in
tests/integration/test_idempotency_keys.py.)"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from psycopg.sql import SQL
from starlette.testclient import TestClient

from domain.shared.context import CommandContext
from interfaces.api import idempotency
from interfaces.api.app import create_app
from interfaces.api.deps import current_principal
from interfaces.api.routes import signatures_public
from interfaces.api.routes.leads.intake import intake_channel
from tests.archive_samples import png
from tests.engines import ADMIN_HEADERS as ADMIN
from tests.engines import running_container

SETUP = CommandContext("admin:test", "setup")
INTAKE = "/api/v1/leads/intake"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def api(engines, tmp_path_factory) -> Iterator[tuple]:
    """Two intake channels (two callers) of one business line, through the API."""
    with running_container(engines, tmp_path_factory.mktemp("idempotency"), workers=True) as container:
        container.access.create_business_line(SETUP, "brokerage", "Brokerage")
        online = str(container.access.create_department(SETUP, "online", "网金部", "online_finance", None).id)
        with TestClient(create_app(container)) as client:
            tokens = {}
            for code in ("ths", "web"):
                ok(client.post("/api/v1/leads/channels", headers=ADMIN, json={
                    "code": code, "name": code, "channel_type": "tonghuashun", "promotion_type": "同花顺",
                    "business_line": "brokerage", "department_id": online}), 201)
                tokens[code] = {"X-Channel-Token": ok(client.post(f"/api/v1/leads/channels/{code}/token",
                                                                  headers=ADMIN))["token"]}
            yield client, container, tokens


def _phone() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


def _keyed(headers: dict, key: str) -> dict:
    return {**headers, "Idempotency-Key": key}


def _intakes(client, answer) -> int:
    """How often the lead of an intake's first row was taken in (留资记录)."""
    lead = answer.json()["results"][0]["lead_id"]
    return len(ok(client.get(f"/api/v1/leads/{lead}", headers=ADMIN, params={
        "wait_for_position": client.app.state.container.store.head()}))["intakes"])


def test_the_same_intake_twice_with_one_key_records_one_lead_and_answers_the_same(api):
    client, container, tokens = api
    phone, key = _phone(), str(uuid.uuid4())
    first = client.post(INTAKE, headers=_keyed(tokens["ths"], key), json={"leads": [{"phone": phone}]})
    head = container.store.head()
    again = client.post(INTAKE, headers=_keyed(tokens["ths"], key), json={"leads": [{"phone": phone}]})
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert container.store.head() == head  # the retry stored nothing
    assert _intakes(client, first) == 1
    # Without a key, the same rows are taken in again (a repeat): the key is what prevents it.
    ok(client.post(INTAKE, headers=tokens["ths"], json={"leads": [{"phone": phone}]}))
    assert _intakes(client, first) == 2


def test_a_retried_create_answers_201_again_with_its_location_etag_and_position(api):
    client, _, _ = api
    key, body = str(uuid.uuid4()), {"code": f"D{uuid.uuid4().hex[:6]}", "name": "Dalian", "kind": "branch"}
    first = client.post("/api/v1/access/departments", headers=_keyed(ADMIN, key), json=body)
    again = client.post("/api/v1/access/departments", headers=_keyed(ADMIN, key), json=dict(reversed(body.items())))
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    for header in ("Location", "ETag", "X-Event-Position"):
        assert again.headers[header] == first.headers[header]
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]  # a request of its own all the same
    taken = client.post("/api/v1/access/departments", headers=ADMIN, json=body)
    assert taken.status_code == 409  # what a retry without a key would have been told


def test_the_same_key_with_another_body_is_refused(api):
    client, container, tokens = api
    key = str(uuid.uuid4())
    ok(client.post(INTAKE, headers=_keyed(tokens["ths"], key), json={"leads": [{"phone": _phone()}]}))
    head = container.store.head()
    other = client.post(INTAKE, headers=_keyed(tokens["ths"], key), json={"leads": [{"phone": _phone()}]})
    assert other.status_code == 422 and other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_key_reused" and other.json()["field"] == "Idempotency-Key"
    assert "POST /api/v1/leads/intake" in other.json()["detail"]
    assert container.store.head() == head


def test_concurrent_requests_with_one_key_record_once_and_get_the_first_answer(api):
    client, _, tokens = api
    phone, key = _phone(), str(uuid.uuid4())
    answers: list = [None] * 4
    barrier = threading.Barrier(len(answers))

    def send(i: int) -> None:
        barrier.wait()
        answers[i] = client.post(INTAKE, headers=_keyed(tokens["ths"], key), json={"leads": [{"phone": phone}]})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(answers))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    done = [a for a in answers if a.status_code == 200]
    running = [a for a in answers if a.status_code != 200]
    assert done and all(a.json() == done[0].json() for a in done)
    assert [a.headers.get("Idempotent-Replayed") for a in done].count(None) == 1  # one ran, the others replayed
    assert all(a.status_code == 409 and a.json()["code"] == "idempotency_key_in_use" for a in running)
    assert _intakes(client, done[0]) == 1


def test_another_callers_same_key_is_their_own(api):
    client, _, tokens = api
    key, phone = str(uuid.uuid4()), _phone()
    answers = [client.post(INTAKE, headers=_keyed(tokens[channel], key), json={"leads": [{"phone": phone}]})
               for channel in ("ths", "web")]
    assert [(a.status_code, "Idempotent-Replayed" in a.headers) for a in answers] == [(200, False), (200, False)]
    assert _intakes(client, answers[0]) == 2  # the same person, taken in by both channels


def test_an_expired_key_runs_the_request_again(api):
    client, container, tokens = api
    phone, key = _phone(), str(uuid.uuid4())
    first = client.post(INTAKE, headers=_keyed(tokens["ths"], key), json={"leads": [{"phone": phone}]})
    container.store.recorder.keys.expire("channel:ths", key)
    again = client.post(INTAKE, headers=_keyed(tokens["ths"], key), json={"leads": [{"phone": phone}]})
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
    assert _intakes(client, first) == 2


def test_a_request_refused_by_validation_can_be_sent_again_with_the_same_key(api):
    client, _, tokens = api
    key, phone = str(uuid.uuid4()), _phone()
    for _ in range(2):  # nothing was recorded: the refusal is not remembered, it is given again
        refused = client.post(INTAKE, headers=_keyed(tokens["ths"], key), json={"leads": []})
        assert refused.status_code == 422 and refused.json()["code"] == "validation_failed"
    fixed = client.post(INTAKE, headers=_keyed(tokens["ths"], key), json={"leads": [{"phone": phone}]})
    assert fixed.status_code == 200 and "Idempotent-Replayed" not in fixed.headers
    assert _intakes(client, fixed) == 1


def test_an_answer_carrying_a_credential_is_not_kept_and_no_second_credential_is_issued(api):
    client, _, _ = api
    key = str(uuid.uuid4())
    issued = ok(client.post("/api/v1/leads/channels/web/token", headers=_keyed(ADMIN, key)))
    retry = client.post("/api/v1/leads/channels/web/token", headers=_keyed(ADMIN, key))
    assert retry.status_code == 409 and retry.json()["code"] == "idempotency_answer_not_kept"
    assert issued["token"] not in retry.text and int(retry.headers["X-Event-Position"]) > 0
    # The token of the first request is still the channel's: the retry issued none.
    ok(client.post(INTAKE, headers={"X-Channel-Token": issued["token"]}, json={"leads": [{"phone": _phone()}]}))


def test_a_key_whose_request_is_running_or_ended_unanswered_is_answered_truthfully(api, monkeypatch):
    client, container, tokens = api
    monkeypatch.setattr(idempotency, "SETTLE_SECONDS", 0.2)
    key, body = str(uuid.uuid4()), {"leads": [{"phone": _phone()}]}
    ok(client.post(INTAKE, headers=_keyed(tokens["ths"], key), json=body))
    position = container.store.recorder.keys.find("channel:ths", key).position
    table = container.store.recorder.keys.table.ident

    def forget_answer(age: str) -> None:  # as if the first request were still running, or had died
        with container.store.datastore.get_connection() as conn:
            conn.execute(SQL("UPDATE {t} SET answered_at = NULL, status = NULL, created_at = now() - %s::interval"
                             " WHERE owner = 'channel:ths' AND key = %s").format(t=table), (age, key))

    forget_answer("1 second")
    running = client.post(INTAKE, headers=_keyed(tokens["ths"], key), json=body)
    assert running.status_code == 409 and running.json()["code"] == "idempotency_key_in_use"
    assert running.headers["Retry-After"] == "1"
    forget_answer("1 hour")
    lost = client.post(INTAKE, headers=_keyed(tokens["ths"], key), json=body)
    assert lost.status_code == 409 and lost.json()["code"] == "idempotency_answer_not_kept"
    assert lost.headers["X-Event-Position"] == str(position) and f"position {position}" in lost.json()["detail"]


def test_a_malformed_key_is_refused(api):
    client, _, tokens = api
    for key in (b"two words", b"x" * 256, "ключ".encode()):
        refused = client.post(INTAKE, headers={**tokens["ths"], "Idempotency-Key": key},
                              json={"leads": [{"phone": _phone()}]})
        assert refused.status_code == 400 and refused.json()["code"] == "invalid_idempotency_key"


def test_every_command_declares_the_header_and_names_whom_its_key_belongs_to(api):
    client, _, _ = api
    schema = client.get("/openapi.json").json()
    commands = [(m.upper(), p, op) for p, ops in schema["paths"].items() for m, op in ops.items()
                if m in ("post", "put", "patch", "delete") and p.startswith("/api/v1/")]
    assert len(commands) > 100
    for method, path, op in commands:
        names = [p["name"] for p in op.get("parameters", [])]
        assert ("Idempotency-Key" in names) == ((method, path) not in idempotency.NOT_CLAIMED), (method, path)
        if "Idempotency-Key" in names:
            assert "400" in op["responses"] and "409" in op["responses"] and "422" in op["responses"]
    reads = [op for ops in schema["paths"].values() for m, op in ops.items() if m == "get"]
    assert not any("Idempotency-Key" in [p["name"] for p in op.get("parameters", [])] for op in reads)
    # A declared key must have an owner: every command authenticates through something that claims it.
    owners = {current_principal, intake_channel}
    for route in client.app.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/v1/"):
            continue
        for method in route.methods & idempotency.METHODS:
            if (method, route.path) in idempotency.NOT_CLAIMED or route.endpoint is signatures_public.sign:
                continue
            assert owners & _calls(route.dependant), (method, route.path)
    for method, path in idempotency.ANSWERS_NOT_KEPT:
        assert path in schema["paths"] and method.lower() in schema["paths"][path]


def _calls(dependant) -> set:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def test_a_retried_file_import_is_answered_from_its_key_without_importing_again(api):
    client, container, _ = api
    key, csv = str(uuid.uuid4()), f"phone,name\n{_phone()},甲\n{_phone()},乙\n".encode()
    headers = {**ADMIN, "Content-Type": "text/csv", "Idempotency-Key": key}
    first = client.post("/api/v1/leads/channels/ths/imports", headers=headers, content=csv)
    head = container.store.head()
    again = client.post("/api/v1/leads/channels/ths/imports", headers=headers, content=csv)
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and container.store.head() == head


def test_a_retried_upload_matches_its_first_attempt_despite_a_new_multipart_boundary(api):
    client, container, _ = api
    key, image = str(uuid.uuid4()), png()
    attempts = [client.post("/api/v1/archive/documents", headers=_keyed(ADMIN, key),
                            files={"file": ("身份证正面.png", image, "image/png")},
                            data={"business_line": "brokerage", "category": "id_card", "customer": "88001234"})
                for _ in range(2)]  # httpx draws a new boundary for each
    assert attempts[0].status_code == attempts[1].status_code == 201
    assert attempts[1].json() == attempts[0].json() and attempts[1].headers["Idempotent-Replayed"] == "true"


def test_a_retry_by_a_caller_whose_permission_was_revoked_is_refused_not_answered(api):
    """The kept answer is handed out only after the route's authorisation: a retry does not
    outlive the permission the first request had."""
    client, container, _ = api
    hq = container.access.create_department(SETUP, "idem-hq", "HQ", "other", None).id
    container.access.create_role(SETUP, "idem_dept_admin", "Dept admin", ["access.departments.manage"])
    operator = container.access.create_operator(SETUP, "idem_ann", "Ann", hq, None, None, "Idem-Retry-2026").id
    container.access.set_data_scope(SETUP, operator, [{"department_id": str(hq), "include_children": True}], [])
    granted = container.access.grant_roles(SETUP, operator, ["idem_dept_admin"])
    assert container.progress.wait_for(["access.departments", "access.principals"], granted.position, 10)
    login = ok(client.post("/api/v1/auth/login", json={"login_name": "idem_ann", "password": "Idem-Retry-2026"}))
    ann = _keyed({"Authorization": f"Bearer {login['access_token']}"}, str(uuid.uuid4()))
    body = {"code": "idem-new", "name": "New", "kind": "other", "parent_id": str(hq)}
    ok(client.post("/api/v1/access/departments", headers=ann, json=body), 201)
    assert client.post("/api/v1/access/departments", headers=ann, json=body).headers["Idempotent-Replayed"] == "true"
    revoked = container.access.revoke_roles(SETUP, operator, ["idem_dept_admin"])
    assert container.progress.wait_for(["access.principals"], revoked.position, 10)
    again = client.post("/api/v1/access/departments", headers=ann, json=body)
    assert again.status_code == 403 and "Idempotent-Replayed" not in again.headers, again.text
