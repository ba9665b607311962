"""GET /api/v1/forms/customers/{fund_account} with a live account-opening system configured (the
local fake of tests/cap_fake.py): a customer opened today is found live, the caller's data scope
and field rules hold for live data as for the copy, and when the fake is down the copy answers
and says it may be stale."""
from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from domain.shared.context import CommandContext
from interfaces.api.app import create_app
from interfaces.demo_forms import CUSTOMERS
from tests.cap_fake import SETTINGS, FakeCap
from tests.engines import ADMIN_HEADERS as ADMIN
from tests.engines import running_container

OPENED_TODAY = {**CUSTOMERS[2], "fund_account": "66009999", "name": "赵六", "id_number": "110105199001010011"}
PASSWORD = "Beijing-Lookup-1"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
def cap():
    fake = FakeCap({**{c["fund_account"]: c for c in CUSTOMERS}, OPENED_TODAY["fund_account"]: OPENED_TODAY})
    yield fake
    fake.stop()


@pytest.fixture
def api(engines, tmp_path, cap):
    with running_container(engines, tmp_path, workers=True, customer_live_url=cap.url, **SETTINGS,
                           customer_live_timeout_seconds=0.5, customer_live_backoff_seconds=0.01) as container:
        container.forms.sync_customers(CommandContext("op:test", "c"), iter(CUSTOMERS))
        with TestClient(create_app(container)) as client:
            yield client, container


def beijing_viewer(client, container):
    """An operator of the Beijing branch who may look customers up, ID numbers masked."""
    # Only Beijing needs to exist: a customer's department id derives from its code (the live
    # Shanghai customers' departments are never created, and the scope check compares ids alone).
    beijing = ok(client.post("/api/v1/access/departments", headers=ADMIN, json={
        "code": "BJ01", "name": "Beijing", "kind": "branch"}), 201)["id"]
    ok(client.post("/api/v1/access/roles", headers=ADMIN, json={
        "key": "lookup", "name": "l", "permissions": ["forms.customers.view"]}), 201)
    op = ok(client.post("/api/v1/access/operators", headers=ADMIN, json={
        "login_name": "bj.user", "display_name": "BJ", "department_id": beijing, "password": PASSWORD}), 201)
    ok(client.post(f"/api/v1/access/operators/{op['id']}/roles", json={"roles": ["lookup"]}, headers=ADMIN))
    ok(client.put(f"/api/v1/access/operators/{op['id']}/data-scope", headers=ADMIN,
                  json={"jurisdiction": [{"department_id": beijing, "include_children": True}]}))
    ok(client.post("/api/v1/access/field-rules", headers=ADMIN, json={
        "resource": "forms.customer", "field": "id_number", "effect": "masked", "mask": "id_card",
        "applies_to_roles": ["lookup"]}), 201)
    for runner in container.runners.values():
        runner.catch_up()
    token = ok(client.post("/api/v1/auth/login", json={"login_name": "bj.user", "password": PASSWORD}))
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_a_customer_opened_today_is_found_live_within_the_callers_scope(api):
    client, container = api
    bj = beijing_viewer(client, container)
    today = ok(client.get("/api/v1/forms/customers/66009999", headers=bj))
    assert today["name"] == "赵六" and today["id_number"] == "1101****0011"  # field rules hold for live data
    assert today["source"] == "live" and today["stale"] is False and today["fetched_at"]
    assert client.get("/api/v1/forms/customers/88001234", headers=bj).status_code == 404  # Shanghai's, live too


def test_when_the_system_is_down_the_copy_answers_and_says_it_may_be_stale(api, cap):
    client, container = api
    container.runners["forms.catalogue"].catch_up()
    cap.stop()
    synced = ok(client.get("/api/v1/forms/customers/88001234", headers=ADMIN))
    assert (synced["source"], synced["stale"], synced["fetched_at"]) == ("copy", True, None)
    assert synced["name"] == "张三" and synced["updated_at"]
    unknown = client.get("/api/v1/forms/customers/66009999", headers=ADMIN)  # opened today, not yet synced
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


def test_a_fund_account_that_could_reach_elsewhere_is_refused_before_any_lookup(api, cap):
    client, _ = api
    for account in ("6600-9999", "x" * 33, "66009999%3Fx%3D1"):
        refused = client.get(f"/api/v1/forms/customers/{account}", headers=ADMIN)
        assert refused.status_code == 422 and refused.json()["code"] == "validation_failed"
    assert client.get("/api/v1/forms/customers/66009999%2F..%2Fadmin", headers=ADMIN).status_code == 404
    assert cap.calls == 0
