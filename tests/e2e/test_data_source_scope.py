"""SQL data sources through the HTTP API: customer rows obey the caller's data scope (enforced by
PostgreSQL's row-level security and again per caller) and the forms.customer field rules by
SOURCE column, however the query aliases its columns, also from the cache; a query using a field
hidden for the caller in a condition is refused for that caller; queries whose rows cannot be
scoped, CTE tricks, set-returning and introspection functions are refused at definition."""
from __future__ import annotations

import pytest

from domain.shared.context import CommandContext
from interfaces.demo_forms import CUSTOMERS
from tests.engines import ADMIN_HEADERS as ADMIN

SH_ACCOUNTS = ["88001234", "88005678"]  # the Shanghai branch and its sub-department
PASSWORD = "Shanghai-Sales-42"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
def scoped_sales(client, live_container):
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


def test_a_shanghai_scoped_operator_sees_only_shanghai_customers_without_hidden_fields(client, scoped_sales):
    # The attacker's data source: no fund_account column by that name, id_number in the clear.
    _define(client, "leak", "SELECT fund_account AS acct, name, id_number, phone, department_id FROM forms_customers"
                            " ORDER BY fund_account", cache_seconds=60)
    first = _query(client, "leak", scoped_sales["sales"])
    assert [r["acct"] for r in first["rows"]] == SH_ACCOUNTS and not first["cached"]
    assert all("id_number" not in r and r["phone"].count("*") == 4 for r in first["rows"])
    again = _query(client, "leak", scoped_sales["sales"])  # from the cache: still filtered for this caller
    assert again == {**first, "cached": True}
    admin = _query(client, "leak", ADMIN)  # another scope, another cache entry
    assert len(admin["rows"]) == 3 and not admin["cached"] and admin["rows"][1]["id_number"] == "11010519491231002X"
    assert _query(client, "leak", ADMIN)["cached"]


def test_an_aliased_id_number_is_hidden_by_its_source_column(client, scoped_sales):
    _define(client, "aliased", "SELECT c.fund_account AS a, c.department_id AS d, c.id_number AS idn,"
                               " c.phone AS tel FROM forms_customers c WHERE c.account_manager = :manager",
            cache_seconds=0)
    rows = _query(client, "aliased", scoped_sales["sales"], manager="li.na")["rows"]
    assert rows == [{"a": "88001234", "d": rows[0]["d"], "tel": "138****5678"}]
    assert _query(client, "aliased", scoped_sales["sales"], manager="liu.yang")["rows"] == []  # a Beijing customer
    assert _query(client, "aliased", ADMIN, manager="liu.yang")["rows"][0]["idn"] == "110105194912310021"


def test_a_data_source_whose_rows_cannot_be_scoped_is_refused_at_definition(client, scoped_sales):
    for sql in ("SELECT name, id_number, phone FROM forms_customers",
                "SELECT fund_account, upper(id_number) AS idn FROM forms_customers",
                "SELECT 'x' AS department_id, id_number FROM forms_customers"):
        body = _define(client, "unscoped", sql, status=422)
        assert body["field"] == "config.sql" and "unsafe SQL" in body["detail"]


def test_the_cte_attack_on_password_hashes_is_refused_at_definition(client, scoped_sales):
    body = _define(client, "hashes", "SELECT login_name AS login, password_hash AS secret FROM access_operators"
                                     " WHERE EXISTS (WITH access_operators AS (SELECT 1) SELECT 1 FROM"
                                     " access_operators)", status=422)
    assert "access_operators" in str(body)
    listed = ok(client.get("/api/v1/forms/data-sources", headers=ADMIN))
    assert "hashes" not in [d["key"] for d in listed]


def test_the_customer_lookup_data_source_is_scoped_too(client, scoped_sales, live_container):
    ok(client.post("/api/v1/forms/data-sources", headers=ADMIN, json={
        "key": "customer", "name": "lookup", "kind": "customer", "config": {}}), 201)
    for runner in live_container.runners.values():
        runner.catch_up()
    assert _query(client, "customer", scoped_sales["sales"], fund_account="66002468")["rows"] == []
    mine = _query(client, "customer", scoped_sales["sales"], fund_account="88005678")["rows"]
    assert len(mine) == 1 and "id_number" not in mine[0] and mine[0]["phone"] == "139****4321"


SELF_JOIN = ("WITH x AS (SELECT * FROM forms_customers) SELECT a.fund_account, a.department_id, b.name AS bname,"
             " b.phone AS bphone, b.fund_account AS bacct FROM x a CROSS JOIN x b")


def test_a_cte_self_join_shows_a_shanghai_operator_only_shanghai_customers(client, scoped_sales, live_container):
    _define(client, "selfjoin", SELF_JOIN, cache_seconds=0)
    rows = _query(client, "selfjoin", scoped_sales["sales"])["rows"]
    assert sorted({r["bacct"] for r in rows}) == SH_ACCOUNTS and len(rows) == 4
    assert "李四" not in {r["bname"] for r in rows}  # the Beijing customer
    assert len(_query(client, "selfjoin", ADMIN)["rows"]) == 9
    # The database alone holds the line: the runner, without the per-caller filter after it.
    from application.forms.engine.sql_guard import check_select
    from domain.forms.checked_sql import RowScope
    from domain.shared.ids import natural_id

    forms = live_container.forms
    shanghai = RowScope(False, (natural_id("department", "SH01"), natural_id("department", "SH01-S1")), ())
    raw, _ = forms.sql_runner.run("x", check_select(SELF_JOIN, forms.allowed_tables), {}, connection="main",
                                  timeout_ms=2000, row_limit=50, cache_seconds=0, scope=shanghai)
    assert sorted({r["bacct"] for r in raw}) == sorted({r["fund_account"] for r in raw}) == SH_ACCOUNTS


# The reviewer's probe: one row per visible customer if the customer :acct matches :prefix, else none.
ORACLE = ("SELECT c.department_id FROM forms_customers c WHERE EXISTS (SELECT 1 FROM"
          " forms_customers x WHERE x.fund_account = :acct AND x.{} LIKE :prefix)")


def test_an_exists_probe_on_a_beijing_customer_answers_nothing_to_a_shanghai_operator(client, scoped_sales):
    _define(client, "probe_name", ORACLE.format("name"), cache_seconds=0)
    assert _query(client, "probe_name", scoped_sales["sales"], acct="66002468", prefix="李%")["rows"] == []
    assert len(_query(client, "probe_name", scoped_sales["sales"], acct="88001234", prefix="张%")["rows"]) == 2
    assert len(_query(client, "probe_name", ADMIN, acct="66002468", prefix="李%")["rows"]) == 3


def test_a_condition_on_a_field_hidden_for_the_caller_is_refused_for_that_caller(client, scoped_sales):
    _define(client, "probe_id", ORACLE.format("id_number"), cache_seconds=0)
    _define(client, "where_id", "SELECT fund_account, department_id FROM forms_customers WHERE id_number = :p",
            cache_seconds=0)
    for key, params in (("probe_id", {"acct": "88001234", "prefix": "1101%"}), ("where_id", {"p": "x"})):
        r = client.post(f"/api/v1/forms/data-sources/{key}/query", headers=scoped_sales["sales"], json={"params": params})
        assert r.status_code == 422 and r.json()["code"] == "data_source_uses_hidden_field", r.text
        assert "id_number" in r.json()["detail"]
    # whoever sees id_number may run it
    assert len(_query(client, "probe_id", ADMIN, acct="66002468", prefix="1101%")["rows"]) == 3
    assert _query(client, "where_id", ADMIN, p="110105194912310021")["rows"][0]["fund_account"] == "66002468"


def test_set_returning_inflating_and_introspection_functions_are_refused_at_definition(client, scoped_sales):
    for sql, word in (("SELECT repeat('x', 1000) AS pad, generate_series(1, 3000000) AS n", "generate_series"),
                      ("SELECT has_table_privilege('access_operators', 'SELECT') AS a", "has_table_privilege"),
                      ("SELECT current_user AS u, session_user AS s", "current_user"),
                      ("SELECT current_database() AS db", "current_database"),
                      ("SELECT inet_server_port() AS p", "inet_server_port")):
        body = _define(client, "refused", sql, status=422)
        assert body["field"] == "config.sql" and word in body["detail"]
