"""SQL data sources through the HTTP API: customer rows obey the caller's data scope and the
forms.customer field rules by SOURCE column, however the query aliases its columns, also from
the cache; queries whose rows cannot be scoped, and CTE tricks, are refused at definition."""
from __future__ import annotations

import pytest

from domain.shared.context import CommandContext
from interfaces.demo_forms import CUSTOMERS

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
SH_ACCOUNTS = ["88001234", "88005678"]  # the Shanghai branch and its sub-department
PASSWORD = "Shanghai-Sales-42"


def ok(r, status=200):  # noqa: ANN001
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
def firm(client, live_container):
    c = client
    live_container.forms.sync_customers(CommandContext("op:test", "c"), iter(CUSTOMERS))
    dept = {}
    for code, parent in [("HQ", None), ("SH01", "HQ"), ("SH01-S1", "SH01"), ("BJ01", "HQ")]:
        dept[code] = ok(c.post("/api/v1/access/departments", headers=ADMIN, json={
            "code": code, "name": code, "kind": "branch", "parent_id": dept.get(parent)}), 201)["id"]
    ok(c.post("/api/v1/access/roles", headers=ADMIN, json={
        "key": "sales", "name": "Sales", "permissions": ["forms.data_sources.query"]}), 201)
    op = ok(c.post("/api/v1/access/operators", headers=ADMIN, json={
        "login_name": "sh.sales", "display_name": "SH sales", "department_id": dept["SH01"],
        "password": PASSWORD}), 201)["id"]
    ok(c.post(f"/api/v1/access/operators/{op}/roles", json={"roles": ["sales"]}, headers=ADMIN))
    ok(c.put(f"/api/v1/access/operators/{op}/data-scope", headers=ADMIN, json={
        "jurisdiction": [{"department_id": dept["SH01"], "include_children": True}]}))
    for rule in ({"resource": "forms.customer", "field": "id_number", "effect": "hidden",
                  "applies_to_roles": ["sales"]},
                 {"resource": "forms.customer", "field": "phone", "effect": "masked", "mask": "phone",
                  "applies_to_roles": ["sales"]}):
        ok(c.post("/api/v1/access/field-rules", headers=ADMIN, json=rule), 201)
    token = ok(c.post("/api/v1/auth/login", json={"login_name": "sh.sales", "password": PASSWORD}))
    for runner in live_container.runners.values():
        runner.catch_up()
    return {"sales": {"Authorization": f"Bearer {token['access_token']}"}}


def _define(client, key, sql, status=201, **config):
    r = client.post("/api/v1/forms/data-sources", headers=ADMIN, json={
        "key": key, "name": key, "kind": "sql", "config": {"sql": sql, **config}})
    return ok(r, status)


def _query(client, key, headers, **params):
    return ok(client.post(f"/api/v1/forms/data-sources/{key}/query", headers=headers, json={"params": params}))


def test_a_shanghai_scoped_operator_sees_only_shanghai_customers_without_hidden_fields(client, firm):
    # The attacker's data source: no fund_account column by that name, id_number in the clear.
    _define(client, "leak", "SELECT fund_account AS acct, name, id_number, phone, department_id FROM forms_customers"
                            " ORDER BY fund_account", cache_seconds=60)
    first = _query(client, "leak", firm["sales"])
    assert [r["acct"] for r in first["rows"]] == SH_ACCOUNTS and not first["cached"]
    assert all("id_number" not in r and r["phone"].count("*") == 4 for r in first["rows"])
    again = _query(client, "leak", firm["sales"])  # from the cache: still filtered for this caller
    assert again == {**first, "cached": True}
    admin = _query(client, "leak", ADMIN)
    assert len(admin["rows"]) == 3 and admin["cached"] and admin["rows"][1]["id_number"] == "11010519491231002X"


def test_an_aliased_id_number_is_hidden_by_its_source_column(client, firm):
    _define(client, "aliased", "SELECT c.fund_account AS a, c.department_id AS d, c.id_number AS idn,"
                               " c.phone AS tel FROM forms_customers c WHERE c.account_manager = :manager",
            cache_seconds=0)
    rows = _query(client, "aliased", firm["sales"], manager="li.na")["rows"]
    assert rows == [{"a": "88001234", "d": rows[0]["d"], "tel": "138****5678"}]
    assert _query(client, "aliased", firm["sales"], manager="liu.yang")["rows"] == []  # a Beijing customer
    assert _query(client, "aliased", ADMIN, manager="liu.yang")["rows"][0]["idn"] == "110105194912310021"


def test_a_data_source_whose_rows_cannot_be_scoped_is_refused_at_definition(client, firm):
    for sql in ("SELECT name, id_number, phone FROM forms_customers",
                "SELECT fund_account, upper(id_number) AS idn FROM forms_customers",
                "SELECT 'x' AS department_id, id_number FROM forms_customers"):
        body = _define(client, "unscoped", sql, status=422)
        assert body["field"] == "config.sql" and "unsafe SQL" in body["detail"]


def test_the_cte_attack_on_password_hashes_is_refused_at_definition(client, firm):
    body = _define(client, "hashes", "SELECT login_name AS login, password_hash AS secret FROM access_operators"
                                     " WHERE EXISTS (WITH access_operators AS (SELECT 1) SELECT 1 FROM"
                                     " access_operators)", status=422)
    assert "access_operators" in str(body)
    listed = ok(client.get("/api/v1/forms/data-sources", headers=ADMIN))
    assert "hashes" not in [d["key"] for d in listed]


def test_the_customer_lookup_data_source_is_scoped_too(client, firm, live_container):
    ok(client.post("/api/v1/forms/data-sources", headers=ADMIN, json={
        "key": "customer", "name": "lookup", "kind": "customer", "config": {}}), 201)
    for runner in live_container.runners.values():
        runner.catch_up()
    assert _query(client, "customer", firm["sales"], fund_account="66002468")["rows"] == []
    mine = _query(client, "customer", firm["sales"], fund_account="88005678")["rows"]
    assert len(mine) == 1 and "id_number" not in mine[0] and mine[0]["phone"] == "139****4321"
