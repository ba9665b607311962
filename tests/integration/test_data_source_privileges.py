"""SQL data sources under the database's own privileges: the parser resolves CTE names by scope
and allows only listed functions, the database role refuses what slips past the parser, row-level
security keeps the role within the caller's data scope, the size of an answer is bounded in the
database, and customer rows that cannot be tied to a data scope are refused when the data source
is defined."""
from __future__ import annotations

import pytest

from application.forms.engine.sql_guard import check_select, referenced_columns
from domain.forms.checked_sql import CheckedSql, DataSourceLimitError, RowScope
from domain.forms.data_source import DataSource
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id

ATTACK = ("SELECT login_name AS login, password_hash AS secret FROM access_operators"
          " WHERE EXISTS (WITH access_operators AS (SELECT 1) SELECT 1 FROM access_operators)")


@pytest.fixture
def forms(container, ctx):
    profiles = [{"fund_account": f"880{i:05d}", "name": f"客户{i}", "subject": "individual", "id_number": f"ID{i}",
                 "account_manager": "li.na" if i % 2 else "wang.fang", "phone": "13812345678",
                 "department_code": "SH01" if i < 2 else "BJ01"} for i in range(6)]
    container.forms.sync_customers(ctx, profiles)
    container.runners["forms.catalogue"].catch_up()
    return container.forms


def _define(forms, ctx, sql, key="probe", **config):
    return forms.define_data_source(ctx, key, key, "sql", {"sql": sql, "cache_seconds": 0, **config})


def _raw(sql):
    """A checked SQL built by hand, as if the parser had let it through."""
    return CheckedSql(sql, (), (), sql)


@pytest.mark.parametrize("sql", [
    ATTACK,
    "SELECT token_hash FROM access_sessions WHERE EXISTS (WITH access_sessions AS (SELECT 1) SELECT 1"
    " FROM access_sessions)",
    # a later sibling is not visible to an earlier CTE of a non-recursive WITH
    "WITH a AS (SELECT * FROM access_operators), access_operators AS (SELECT 1) SELECT * FROM a",
    # a WITH inside a subquery is not visible to the outer query
    "SELECT * FROM (WITH access_operators AS (SELECT 1) SELECT * FROM access_operators) s, access_operators",
    "SELECT fund_account FROM forms_customers WHERE fund_account IN (SELECT login_name FROM access_operators"
    " WHERE EXISTS (WITH access_operators AS (SELECT 1) SELECT 1 FROM access_operators))",
    # a schema-qualified name never refers to a CTE
    "WITH access_operators AS (SELECT 1) SELECT * FROM public.access_operators",
])
def test_a_cte_named_like_a_table_does_not_hide_that_table(forms, ctx, sql):
    with pytest.raises(RuleViolationError) as err:
        _define(forms, ctx, sql)
    assert "outside the allow-list" in err.value.message and err.value.field == "config.sql"


@pytest.mark.parametrize("sql", [
    "WITH c AS (SELECT fund_account FROM forms_customers) SELECT fund_account FROM c",
    "WITH RECURSIVE n AS (SELECT 1 AS i UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT fund_account"
    " FROM forms_customers, n",
    "WITH a AS (SELECT fund_account FROM forms_customers), b AS (SELECT * FROM a) SELECT fund_account FROM b",
])
def test_ctes_that_really_are_visible_still_work(sql):
    assert check_select(sql, {"forms_customers"}).tables == ("forms_customers",)


def test_functions_that_run_sql_text_are_refused(forms, ctx):
    with pytest.raises(RuleViolationError, match="ts_stat"):
        _define(forms, ctx, "SELECT fund_account, ts_stat('SELECT 1') FROM forms_customers")


def test_the_database_role_refuses_a_query_that_slips_past_the_parser(forms):
    with pytest.raises(DataSourceLimitError, match="may not read that: permission denied for table access_operators"):
        forms.sql_runner.run("x", _raw("SELECT login_name, password_hash FROM access_operators"), {},
                             connection="main", timeout_ms=1000, row_limit=10, cache_seconds=0)
    with pytest.raises(DataSourceLimitError, match="permission denied"):
        forms.sql_runner.run("x", _raw("SELECT * FROM ledgerflow_events"), {}, connection="main", timeout_ms=1000,
                             row_limit=10, cache_seconds=0)


def test_a_query_that_changes_its_role_is_discarded(forms):
    with pytest.raises(DataSourceLimitError, match="changed its database role"):
        forms.sql_runner.run("x", _raw("SELECT set_config('role', 'none', true) AS r"), {}, connection="main",
                             timeout_ms=1000, row_limit=10, cache_seconds=0)


def test_the_role_may_read_exactly_the_allow_list_and_a_shrunk_list_takes_effect(container, forms):
    run = lambda: forms.sql_runner.run("x", _raw("SELECT fund_account FROM forms_customers"), {},  # noqa: E731
                                       connection="main", timeout_ms=1000, row_limit=10, cache_seconds=0,
                                       scope=RowScope.everything())
    assert len(run()[0]) == 6
    try:
        assert forms.sql_runner.ensure_role(set()) == []
        with pytest.raises(DataSourceLimitError, match="permission denied for table forms_customers"):
            run()
    finally:
        assert forms.sql_runner.ensure_role({"forms_customers", "no_such_table", "bad name!"}) == ["forms_customers"]
    assert len(run()[0]) == 6


@pytest.mark.parametrize("sql,reason", [
    ("SELECT name, id_number, phone FROM forms_customers", "cannot be scoped"),
    ("SELECT count(*) AS n FROM forms_customers", "not computed: n"),
    ("SELECT fund_account, upper(id_number) AS idn FROM forms_customers", "not computed: idn"),
    ("SELECT '88000001' AS fund_account, name FROM forms_customers", "not computed: fund_account"),
    ("SELECT name FROM forms_customers WHERE fund_account = :account", "cannot be scoped"),
    ("SELECT x.fund_account, x.id_number FROM (SELECT '1' AS fund_account, id_number FROM forms_customers) x",
     "not computed: fund_account"),
    ("SELECT a.fund_account, b.id_number FROM forms_customers a JOIN forms_customers b"
     " ON a.account_manager = b.account_manager", "read more than once"),
    ("SELECT fund_account, name, fund_account FROM forms_customers", "distinct"),
    ("SELECT fund_account, name FROM forms_customers UNION SELECT fund_account, name FROM forms_customers",
     "not computed"),
])
def test_customer_rows_that_cannot_be_scoped_are_refused_at_definition(forms, ctx, sql, reason):
    with pytest.raises(RuleViolationError) as err:
        _define(forms, ctx, sql)
    assert reason in err.value.message and err.value.field == "config.sql"


def test_the_definition_keeps_the_source_of_each_column_and_the_scope_columns(container, forms, ctx):
    _define(forms, ctx, "WITH c AS (SELECT * FROM forms_customers) SELECT fund_account AS acct, name,"
                        " id_number AS idn FROM c WHERE account_manager = :manager")
    config = forms.load(natural_id("data_source", "probe"), DataSource).config
    assert config["columns"] == [
        {"name": "acct", "table": "forms_customers", "column": "fund_account"},
        {"name": "name", "table": "forms_customers", "column": "name"},
        {"name": "idn", "table": "forms_customers", "column": "id_number"}]
    assert config["customer_data"] and config["scope"] == [{"fund_account": "acct", "department_id": None}]


def test_a_data_source_over_tables_without_customer_rows_needs_no_scope(container, forms, ctx):
    container.access.create_business_line(ctx, "brokerage", "Brokerage")
    forms.create_business_type(ctx, "fee", "Fee", "brokerage", "", ["individual"])
    container.runners["forms.catalogue"].catch_up()
    forms.allowed_tables = {"forms_customers", "forms_business_types"}
    forms.sql_runner.ensure_role(forms.allowed_tables)
    try:
        _define(forms, ctx, "SELECT code, upper(name) AS name FROM forms_business_types")
        assert forms.query_data_source("probe", {})["rows"] == [{"code": "fee", "name": "FEE"}]
    finally:
        forms.allowed_tables = {"forms_customers"}
        forms.sql_runner.ensure_role(forms.allowed_tables)


def test_a_database_user_with_createrole_sets_the_role_up_itself(engines):
    """Production: the service's database user is no superuser; with CREATEROLE it creates the
    role, grants it to itself and runs data sources as it."""
    import uuid

    import psycopg
    from psycopg.sql import SQL, Identifier

    from infrastructure.eventstore.store import datastore_from_url
    from infrastructure.forms.sql_source import SqlSourceRunner
    from tests.engines import fresh_database

    suffix = uuid.uuid4().hex[:8]
    app, role = f"lf_app_{suffix}", f"lf_ds_{suffix}"
    admin = engines.admin_database_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD 'app-password-0123'").format(Identifier(app)))
    try:
        with fresh_database(engines) as url:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SQL("ALTER SCHEMA public OWNER TO {}").format(Identifier(app)))
            params = psycopg.conninfo.conninfo_to_dict(url)
            app_url = psycopg.conninfo.make_conninfo(**{**params, "user": app, "password": "app-password-0123"})
            with psycopg.connect(app_url, autocommit=True) as conn:
                conn.execute("CREATE TABLE forms_customers (fund_account text, id_number text)")
                conn.execute("INSERT INTO forms_customers VALUES ('88000001', 'ID1')")
                conn.execute("CREATE TABLE access_operators (login_name text, password_hash text)")
            datastore = datastore_from_url(app_url, pool_size=1, lock_timeout=5)
            try:
                runner = SqlSourceRunner({"main": datastore}, None, role=role)
                assert runner.ensure_role({"forms_customers"}) == ["forms_customers"]
                assert runner.ensure_role({"forms_customers"}) == ["forms_customers"]  # every start: idempotent
                rows, _ = runner.run("x", _raw("SELECT fund_account FROM forms_customers"), {}, connection="main",
                                     timeout_ms=1000, row_limit=10, cache_seconds=0, scope=RowScope.everything())
                assert rows == [{"fund_account": "88000001"}]
                # Row-level security binds the role, not the owner (a plain user here, no superuser).
                with psycopg.connect(app_url, autocommit=True) as conn:
                    conn.execute("INSERT INTO forms_customers VALUES ('88000002', 'ID2')")
                    assert conn.execute("SELECT count(*) FROM forms_customers").fetchone()[0] == 2
                    assert conn.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class"
                                        " WHERE relname = 'forms_customers'").fetchone() == (True, False)
                rows, _ = runner.run("x", _raw("SELECT fund_account FROM forms_customers"), {}, connection="main",
                                     timeout_ms=1000, row_limit=10, cache_seconds=0,
                                     scope=RowScope(False, (), ("88000002",)))
                assert rows == [{"fund_account": "88000002"}]
                with pytest.raises(DataSourceLimitError, match="permission denied"):
                    runner.run("x", _raw("SELECT * FROM access_operators"), {}, connection="main", timeout_ms=1000,
                               row_limit=10, cache_seconds=0)
            finally:
                datastore.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in (role, app):
                conn.execute(SQL("DROP ROLE IF EXISTS {}").format(Identifier(name)))


def test_a_database_user_without_createrole_stops_start_up_with_a_clear_message(engines):
    import uuid

    import psycopg
    from psycopg.sql import SQL, Identifier

    from infrastructure.eventstore.store import datastore_from_url
    from infrastructure.forms.sql_source import DataSourceRoleError, SqlSourceRunner
    from tests.engines import fresh_database

    app = f"lf_app_{uuid.uuid4().hex[:8]}"
    admin = engines.admin_database_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(SQL("CREATE ROLE {} LOGIN PASSWORD 'app-password-0123'").format(Identifier(app)))
    try:
        with fresh_database(engines) as url:
            params = psycopg.conninfo.conninfo_to_dict(url)
            app_url = psycopg.conninfo.make_conninfo(**{**params, "user": app, "password": "app-password-0123"})
            datastore = datastore_from_url(app_url, pool_size=1, lock_timeout=5)
            try:
                runner = SqlSourceRunner({"main": datastore}, None, role=f"lf_ds_{uuid.uuid4().hex[:8]}")
                with pytest.raises(DataSourceRoleError, match="needs CREATEROLE"):
                    runner.ensure_role({"forms_customers"})
            finally:
                datastore.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(SQL("DROP ROLE IF EXISTS {}").format(Identifier(app)))


def _policy(**principal):
    from application.access.policy import Policy, Principal

    return Policy(Principal(actor="operator:t", kind="operator", permissions=frozenset(), **principal))


def test_a_definition_stored_before_the_scope_rule_is_described_at_query_time(forms, ctx):
    from domain.shared.context import acting_as

    legacy = {"connection": "main", "timeout_ms": 1000, "row_limit": 50, "cache_seconds": 0}
    with acting_as(ctx):  # as stored by an older version: no column map
        forms.save_one(DataSource.define("old_scoped", "o", "sql", {
            "sql": "SELECT fund_account AS a, id_number FROM forms_customers ORDER BY 1", **legacy}))
        forms.save_one(DataSource.define("old_leak", "o", "sql", {
            "sql": "SELECT name, id_number FROM forms_customers", **legacy}))
    mine = _policy(departments=frozenset(), investor_accounts=frozenset({"88000001"}))
    assert forms.query_data_source_for(mine, "old_scoped", {})["rows"] == [{"a": "88000001", "id_number": "ID1"}]
    with pytest.raises(RuleViolationError, match="cannot be scoped"):
        forms.query_data_source_for(mine, "old_leak", {})
    with pytest.raises(RuleViolationError, match="cannot be scoped"):
        forms.query_data_source_for(_policy(), "old_leak", {})  # not even for an unrestricted caller


# -- row-level security: the database keeps the role within the caller's scope -----------------
SELF_JOIN = ("WITH x AS (SELECT * FROM forms_customers) SELECT a.fund_account, a.department_id, b.name AS bname,"
             " b.fund_account AS bacct FROM x a CROSS JOIN x b")


def _run(forms, sql, scope, **params):
    return forms.sql_runner.run("x", check_select(sql, forms.allowed_tables), params, connection="main",
                                timeout_ms=2000, row_limit=100, cache_seconds=0, scope=scope)[0]


def test_row_level_security_alone_keeps_a_cte_self_join_within_the_callers_scope(forms):
    shanghai = RowScope(False, (natural_id("department", "SH01"),), ())
    rows = _run(forms, SELF_JOIN, shanghai)  # the runner itself: no per-caller filter after it
    assert len(rows) == 4 and {r["bacct"] for r in rows} == {r["fund_account"] for r in rows} == {"88000000",
                                                                                                 "88000001"}
    one_account = RowScope(False, (), ("88000003",))
    assert [(r["fund_account"], r["bacct"]) for r in _run(forms, SELF_JOIN, one_account)] == [("88000003",
                                                                                               "88000003")]
    assert len(_run(forms, SELF_JOIN, RowScope.everything())) == 36


def test_an_exists_probe_cannot_see_a_customer_outside_the_scope(forms):
    probe = ("SELECT c.fund_account, c.department_id FROM forms_customers c WHERE EXISTS (SELECT 1 FROM"
             " forms_customers x WHERE x.fund_account = :acct AND x.id_number LIKE :prefix)")
    shanghai = RowScope(False, (natural_id("department", "SH01"),), ())
    assert _run(forms, probe, shanghai, acct="88000004", prefix="ID%") == []  # a Beijing customer
    assert len(_run(forms, probe, shanghai, acct="88000001", prefix="ID%")) == 2
    assert len(_run(forms, probe, RowScope.everything(), acct="88000004", prefix="ID%")) == 6


def test_without_a_scope_the_role_reads_no_customer_rows(forms):
    assert forms.sql_runner.run("x", _raw("SELECT fund_account FROM forms_customers"), {}, connection="main",
                                timeout_ms=1000, row_limit=10, cache_seconds=0)[0] == []


def test_the_tables_owner_still_reads_every_row_and_projections_still_write(container, forms, ctx):
    with forms.sql_runner.connections["main"].get_connection() as conn:
        assert conn.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class"
                            " WHERE oid = 'forms_customers'::regclass").fetchone() == {
            "relrowsecurity": True, "relforcerowsecurity": False}
        assert conn.execute("SELECT count(*) AS n FROM forms_customers").fetchone()["n"] == 6
    forms.sync_customers(ctx, [{"fund_account": "88000009", "name": "新", "subject": "individual",
                                "department_code": "BJ01"}])
    container.runners["forms.catalogue"].catch_up()
    assert container.forms_queries.customer("88000009")["name"] == "新"


def test_a_query_that_changes_its_scope_settings_is_discarded(forms):
    with pytest.raises(DataSourceLimitError, match="changed its data scope"):
        forms.sql_runner.run("x", _raw("SELECT set_config('ledgerflow.ds_all', 'on', true) AS r"), {},
                             connection="main", timeout_ms=1000, row_limit=10, cache_seconds=0)


def test_start_up_puts_back_a_dropped_scope_policy_even_when_processes_start_together(forms):
    import threading

    from infrastructure.forms.sql_source import POLICY

    with forms.sql_runner.connections["main"].get_connection() as conn:
        conn.execute(f"DROP POLICY {POLICY} ON forms_customers")
        conn.commit()
    assert _run(forms, "SELECT fund_account FROM forms_customers", RowScope.everything()) == []  # fails closed
    errors = []

    def start():
        try:
            forms.sql_runner.ensure_role(forms.allowed_tables)
        except Exception as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with forms.sql_runner.connections["main"].get_connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM pg_policies WHERE policyname = %s AND tablename ="
                            " 'forms_customers'", (POLICY,)).fetchone()["n"] == 1
    assert len(_run(forms, "SELECT fund_account FROM forms_customers", RowScope.everything())) == 6


def test_the_cache_is_kept_per_scope(forms, ctx):
    forms.define_data_source(ctx, "cached", "c", "sql", {"sql": "SELECT fund_account, department_id FROM"
                                                                 " forms_customers ORDER BY 1", "cache_seconds": 60})
    shanghai = _policy(departments=frozenset({natural_id("department", "SH01")}))
    beijing = _policy(departments=frozenset({natural_id("department", "BJ01")}))
    first = forms.query_data_source_for(shanghai, "cached", {})
    assert [r["fund_account"] for r in first["rows"]] == ["88000000", "88000001"] and not first["cached"]
    other = forms.query_data_source_for(beijing, "cached", {})
    assert len(other["rows"]) == 4
    again = forms.query_data_source_for(shanghai, "cached", {})
    assert again["cached"] and [r["fund_account"] for r in again["rows"]] == ["88000000", "88000001"]


# -- no oracle on hidden fields -------------------------------------------------------------------
def _hiding(*fields, effect="hidden"):
    from domain.access.masking import FieldRuleView

    rules = [FieldRuleView("forms.customer", f, effect, "phone" if effect == "masked" else None, frozenset(),
                           frozenset(), frozenset(), frozenset()) for f in fields]
    policy = _policy(departments=frozenset({natural_id("department", "SH01")}))
    policy.load_rules = lambda resource: rules if resource == "forms.customer" else []
    return policy


@pytest.mark.parametrize("sql", [
    "SELECT c.fund_account, c.department_id FROM forms_customers c WHERE EXISTS (SELECT 1 FROM forms_customers x"
    " WHERE x.fund_account = :acct AND x.id_number LIKE :prefix)",
    "SELECT fund_account, department_id FROM forms_customers WHERE id_number = :prefix",
    "SELECT fund_account, department_id, id_number AS idn FROM forms_customers ORDER BY idn",
    "SELECT fund_account, department_id, id_number FROM forms_customers ORDER BY 3",
    "WITH c AS (SELECT fund_account, department_id, id_number AS i FROM forms_customers) SELECT fund_account,"
    " department_id FROM c WHERE i LIKE :prefix",
    "SELECT a.fund_account, a.department_id FROM forms_customers a JOIN forms_customers b USING (id_number)",
    "SELECT fund_account, department_id FROM forms_customers c WHERE c::text LIKE :prefix",
    "SELECT f, department_id FROM forms_customers t(f) WHERE f IS NOT NULL",
])
def test_a_query_using_a_hidden_field_other_than_as_output_is_refused_for_that_caller(forms, ctx, sql):
    forms.define_data_source(ctx, "probe", "p", "sql", {"sql": sql, "cache_seconds": 0})
    params = {p: "ID%" for p in ("acct", "prefix") if f":{p}" in sql}
    with pytest.raises(RuleViolationError) as err:
        forms.query_data_source_for(_hiding("id_number"), "probe", params)
    assert err.value.code == "data_source_uses_hidden_field" and "id_number" in err.value.message
    with pytest.raises(RuleViolationError, match="hidden or masked"):
        forms.query_data_source_for(_hiding("id_number", effect="masked"), "probe", params)
    forms.query_data_source_for(_hiding(), "probe", params)  # who may see id_number may run it
    forms.query_data_source_for(_policy(), "probe", params)


def test_a_hidden_field_that_is_only_output_is_removed_not_refused(forms, ctx):
    forms.define_data_source(ctx, "plain", "p", "sql", {"sql": "WITH c AS (SELECT * FROM forms_customers) SELECT"
                                                                " fund_account, department_id, id_number AS idn FROM c"
                                                                " WHERE name LIKE :n ORDER BY fund_account",
                                                         "cache_seconds": 0})
    rows = forms.query_data_source_for(_hiding("id_number"), "plain", {"n": "客户%"})["rows"]
    assert [sorted(r) for r in rows] == [["department_id", "fund_account"]] * 2


@pytest.mark.parametrize("sql,used", [
    ("SELECT fund_account, name FROM forms_customers", set()),
    ("SELECT * FROM forms_customers WHERE EXISTS (SELECT * FROM forms_customers x WHERE x.phone = '1')",
     {"phone"}),
    ("SELECT fund_account FROM forms_customers GROUP BY fund_account HAVING max(name) > 'a'",
     {"fund_account", "name"}),
    ("SELECT fund_account FROM forms_customers WHERE (fund_account, name) IN (SELECT * FROM forms_customers)",
     {"*", "fund_account", "name"}),
    ("SELECT DISTINCT * FROM forms_customers", {"*"}),
    ("SELECT a.fund_account FROM forms_customers a NATURAL JOIN forms_customers b", {"*"}),
    ("SELECT fund_account, count(*) OVER (PARTITION BY id_number) AS n FROM forms_customers", {"id_number"}),
])
def test_the_columns_a_query_uses_other_than_as_output_are_found(sql, used):
    assert referenced_columns(sql) == used


# -- bounded answers ------------------------------------------------------------------------------
@pytest.mark.parametrize("sql,reason", [
    ("SELECT repeat('x', 1000) AS pad, generate_series(1, 3000000) AS n", "generate_series() is not allowed"),
    ("SELECT fund_account, unnest(ARRAY[1, 2]) AS n FROM forms_customers", "unnest() is not allowed"),
    ("SELECT regexp_split_to_table(name, '') AS c FROM forms_customers", "regexp_split_to_table() is not allowed"),
    ("SELECT jsonb_array_elements('[1]') AS e", "jsonb_array_elements() is not allowed"),
    ("SELECT string_to_table('a,b', ',') AS e", "string_to_table() is not allowed"),
    ("SELECT repeat('x', 1000000) AS pad", "repeat() is not allowed"),
    ("SELECT lpad('x', 1000000) AS pad", "lpad() is not allowed"),
    ("SELECT rpad('x', 1000000) AS pad", "rpad() is not allowed"),
])
def test_set_returning_and_inflating_functions_are_refused_at_definition(forms, ctx, sql, reason):
    with pytest.raises(RuleViolationError) as err:
        _define(forms, ctx, sql)
    assert reason in err.value.message and err.value.field == "config.sql"


COUNT_TO = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) SELECT i FROM n"


def test_a_big_but_allowed_query_stops_at_the_row_limit_in_the_database(forms, ctx):
    import time

    # 50 million rows would run far past the timeout: stopping at once shows the database stopped
    # producing them at the limit, and nothing beyond the limit crossed the wire.
    _define(forms, ctx, COUNT_TO.format(50_000_000), row_limit=100, timeout_ms=2000)
    started = time.monotonic()
    with pytest.raises(RuleViolationError, match="more than 100 rows"):
        forms.query_data_source("probe", {})
    assert time.monotonic() - started < 1.5


DOUBLING = ("WITH RECURSIVE r(s, i) AS (SELECT 'xxxxxxxxxx'::text, 0 UNION ALL SELECT s || s, i + 1 FROM r"
            " WHERE i < {}) ")


def test_a_single_huge_value_is_refused_in_the_database(forms, ctx):
    _define(forms, ctx, DOUBLING.format(24) + "SELECT s FROM r", timeout_ms=2000)  # up to 160 MB in one row
    with pytest.raises(RuleViolationError, match="larger than the size limit"):
        forms.query_data_source("probe", {})


def test_rows_weighing_more_than_the_size_limit_in_total_are_refused(forms, ctx):
    # 20 rows of 640 KB each: every row fits, together they do not.
    _define(forms, ctx, DOUBLING.format(16) + ", k(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM k WHERE j < 20)"
                        " SELECT s, j FROM r, k WHERE i = 16", timeout_ms=2000)
    with pytest.raises(RuleViolationError, match="weigh more than"):
        forms.query_data_source("probe", {})


@pytest.mark.parametrize("sql", [
    "SELECT fund_account FROM forms_customers ORDER BY 1;",
    "SELECT fund_account FROM forms_customers ORDER BY 1 -- the end",
    "SELECT fund_account FROM forms_customers ORDER BY 1; -- the end\n",
    "SELECT fund_account FROM forms_customers WHERE name LIKE '%' ORDER BY 1 /* the end */ ;",
])
def test_a_trailing_semicolon_or_comment_does_not_break_the_bounded_run(forms, ctx, sql):
    _define(forms, ctx, sql)
    assert len(forms.query_data_source("probe", {})["rows"]) == 6


# -- less disclosure ------------------------------------------------------------------------------
@pytest.mark.parametrize("sql,reason", [
    ("SELECT current_user AS u", "current_user is not allowed"),
    ("SELECT session_user AS u", "session_user is not allowed"),
    ("SELECT current_role AS u", "current_role is not allowed"),
    ("SELECT user AS u", "user is not allowed"),
    ("SELECT current_schema AS s", "current_schema is not allowed"),
    ("SELECT current_database() AS d", "current_database() is not allowed"),
    ("SELECT current_schemas(true) AS s", "current_schemas() is not allowed"),
    ("SELECT has_table_privilege('access_operators', 'SELECT') AS p", "has_table_privilege() is not allowed"),
    ("SELECT inet_server_port() AS p", "inet_server_port() is not allowed"),
    ("SELECT version() AS v", "version() is not allowed"),
    ("SELECT \"pg_catalog\".\"current_setting\"('data_directory') AS d", "current_setting() is not allowed"),
    ("SELECT 'access_operators'::regclass::oid AS o", "casts to regclass are not allowed"),
    ("SELECT to_regclass('access_operators') AS o", "to_regclass() is not allowed"),
    ("SELECT public.upper('x') AS u", "public.upper() is not allowed"),
])
def test_functions_that_describe_the_database_are_refused_at_definition(forms, ctx, sql, reason):
    with pytest.raises(RuleViolationError) as err:
        _define(forms, ctx, sql)
    assert reason in err.value.message and err.value.field == "config.sql"


def test_common_functions_stay_allowed(forms, ctx):
    _define(forms, ctx, "SELECT fund_account, department_id FROM forms_customers WHERE upper(name) <> ''"
                        " AND length(trim(phone)) = 11 AND substring(phone from 1 for 3) = '138'"
                        " AND coalesce(nullif(status, ''), 'active') = 'active' AND extract(year FROM now()) > 2000"
                        " AND date_trunc('day', current_timestamp) <= now() AND greatest(1, 2) = 2"
                        " AND (SELECT count(*) FROM forms_customers x WHERE x.account_manager LIKE 'li%') > 0")
    assert len(forms.query_data_source("probe", {})["rows"]) == 6
