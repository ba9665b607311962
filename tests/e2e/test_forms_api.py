"""Forms through the HTTP API: design, publish, validate, export/import, customers, records."""
from __future__ import annotations

import copy

import pytest

from interfaces.demo_forms import CUSTOMERS, FEE_RATE
from tests.engines import ADMIN_HEADERS as ADMIN


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
def designed(client, live_container):
    c = client
    ok(c.post("/api/v1/access/business-lines", json={"code": "brokerage", "name": "B"}, headers=ADMIN), 201)
    ok(c.post("/api/v1/access/business-lines", json={"code": "ib", "name": "IB"}, headers=ADMIN), 201)
    created = ok(c.post("/api/v1/forms/business-types", headers=ADMIN, json={
        "code": "fee_rate_change", "name": "Fee rate", "business_line": "brokerage", "subjects": ["individual"]}), 201)
    draft = ok(c.put("/api/v1/forms/business-types/fee_rate_change/drafts/individual", json={"form": FEE_RATE},
                     headers={**ADMIN, "If-Match": f'"{created["version"]}"'}))
    published = ok(c.post("/api/v1/forms/business-types/fee_rate_change/publish",
                          headers={**ADMIN, "If-Match": f'"{draft["version"]}"'}))
    assert published["published_version"] == 1
    return published


def test_publish_refuses_an_invalid_draft_naming_each_field(client, designed):
    broken = copy.deepcopy(FEE_RATE)
    broken["properties"]["exchange"]["x-component"] = "Dropdown"
    broken["properties"]["special_reason"]["x-reactions"][0]["when"] = "rates.exists(r, r.rate <"
    ok(client.put("/api/v1/forms/business-types/fee_rate_change/drafts/individual", json={"form": broken},
                  headers=ADMIN))
    r = client.post("/api/v1/forms/business-types/fee_rate_change/publish", headers=ADMIN)
    body = r.json()
    assert r.status_code == 422 and body["code"] == "invalid_form_schema"
    assert {e["path"] for e in body["errors"]} == {"individual:exchange", "individual:special_reason.x-reactions[0]"}
    detail = ok(client.get("/api/v1/forms/business-types/fee_rate_change",
                           params={"wait_for_position": designed["position"]}, headers=ADMIN))
    assert [v["number"] for v in detail["versions"]] == [1]  # still only the good version


def test_validate_answers_every_field_error(client, designed):
    r = ok(client.post("/api/v1/forms/business-types/fee_rate_change/versions/1/validate", headers=ADMIN, json={
        "subject": "individual", "data": {"customer": {"fund_account": "12"}, "exchange": "LME",
                                          "rates": [{"id": "r1", "product": "cu", "rate": 0.5}]}}))
    assert not r["valid"]
    assert {(e["path"], e["rule"]) for e in r["errors"]} == {
        ("customer.fund_account", "format"), ("exchange", "enum"), ("effective_date", "required"),
        ("special_reason", "required")}


def test_export_then_import_round_trips_a_business_type(client, designed):
    exported = ok(client.get("/api/v1/forms/business-types/fee_rate_change/export", headers=ADMIN))
    exported["code"] = "fee_rate_change_copy"
    ok(client.post("/api/v1/forms/business-types/import", json=exported, headers=ADMIN), 201)
    again = client.post("/api/v1/forms/business-types/import", json=exported, headers=ADMIN)
    assert again.status_code == 409
    assert client.post("/api/v1/forms/business-types/import", json={"x": 1}, headers=ADMIN).status_code == 422


def test_records_and_changes_through_the_api(client, designed):
    data = {"customer": {"fund_account": "88001234"}, "exchange": "SHFE", "effective_date": "2026-12-01",
            "rates": [{"id": "r1", "product": "cu", "rate": 2.0}]}
    started = ok(client.post("/api/v1/forms/records", headers=ADMIN, json={
        "business_type": "fee_rate_change", "subject": "individual", "data": data, "node": "start"}), 201)
    bad = client.post("/api/v1/forms/records", headers=ADMIN, json={
        "business_type": "fee_rate_change", "subject": "individual", "data": {**data, "exchange": 7}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "exchange"
    saved = ok(client.put(f"/api/v1/forms/records/{started['id']}", headers={**ADMIN, "If-Match": '"1"'},
                          json={"data": {**data, "exchange": "DCE"}, "node": "ops"}))
    stale = client.put(f"/api/v1/forms/records/{started['id']}", headers={**ADMIN, "If-Match": '"1"'},
                       json={"data": {**data, "exchange": "CZCE"}, "node": "ops"})
    assert stale.status_code == 409
    changes = ok(client.get(f"/api/v1/forms/records/{started['id']}/changes",
                            params={"wait_for_position": saved["position"]}, headers=ADMIN))
    assert [(c["kind"], c["path"], c["old_value"], c["new_value"], c["node"]) for c in changes] == [
        ("changed", "exchange", "SHFE", "DCE", "ops")]


def test_customer_lookup_is_scoped_and_masked(client, live_container):
    from domain.shared.context import CommandContext

    live_container.forms.sync_customers(CommandContext("op:test", "c"), iter(CUSTOMERS))
    dept = {}
    for code, parent in [("HQ", None), ("SH01", "HQ"), ("SH01-S1", "SH01"), ("BJ01", "HQ")]:
        dept[code] = ok(client.post("/api/v1/access/departments", headers=ADMIN, json={
            "code": code, "name": code, "kind": "branch", "parent_id": dept.get(parent)}), 201)["id"]
    ok(client.post("/api/v1/access/roles", headers=ADMIN, json={
        "key": "lookup", "name": "l", "permissions": ["forms.customers.view"]}), 201)
    op = ok(client.post("/api/v1/access/operators", headers=ADMIN, json={
        "login_name": "bj.user", "display_name": "BJ", "department_id": dept["BJ01"],
        "password": "Beijing-Lookup-1"}), 201)["id"]
    ok(client.post(f"/api/v1/access/operators/{op}/roles", json={"roles": ["lookup"]}, headers=ADMIN))
    ok(client.put(f"/api/v1/access/operators/{op}/data-scope", headers=ADMIN, json={
        "jurisdiction": [{"department_id": dept["BJ01"], "include_children": True}]}))
    token = ok(client.post("/api/v1/auth/login", json={"login_name": "bj.user", "password": "Beijing-Lookup-1"}))
    bj = {"Authorization": f"Bearer {token['access_token']}"}
    ok(client.post("/api/v1/access/field-rules", headers=ADMIN, json={
        "resource": "forms.customer", "field": "id_number", "effect": "masked", "mask": "id_card",
        "applies_to_roles": ["lookup"]}), 201)
    live_container.runners["forms.catalogue"].catch_up()
    assert client.get("/api/v1/forms/customers/88001234", headers=bj).status_code == 404  # a Shanghai customer
    mine = ok(client.get("/api/v1/forms/customers/66002468", headers=bj))
    assert mine["name"] == "李四" and mine["id_number"] == "1101****0021"
    assert ok(client.get("/api/v1/forms/customers/66002468", headers=ADMIN))["id_number"] == "110105194912310021"
    trail = ok(client.get(f"/api/v1/audit/aggregates/{_customer_id('66002468')}/trail", headers=ADMIN))["items"]
    assert trail[0]["data"]["profile"]["id_number"] == "110105194912310021"


def _customer_id(account):
    from domain.shared.ids import natural_id

    return natural_id("customer", account)


def test_a_record_takes_an_integer_where_the_form_says_number(client, designed):
    """A browser sends 2 for 2.0: the record stores a number and the computed field (row.rate / 0.5,
    CEL, which has no int/double overloads) is computed instead of failing."""
    data = {"customer": {"fund_account": "88001234"}, "exchange": "SHFE", "effective_date": "2026-12-01",
            "rates": [{"id": "r1", "product": "cu", "rate": 2}]}
    started = ok(client.post("/api/v1/forms/records", headers=ADMIN, json={
        "business_type": "fee_rate_change", "subject": "individual", "data": data, "node": "start"}), 201)
    record = ok(client.get(f"/api/v1/forms/records/{started['id']}", headers=ADMIN,
                           params={"wait_for_position": started["position"]}))
    row = record["data"]["rates"][0]
    assert row["rate"] == 2.0 and row["multiple_of_exchange"] == 4.0
