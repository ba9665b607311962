"""SQL data sources under the database's own privileges: the parser resolves CTE names by scope,
the database role refuses what slips past the parser, and customer rows that cannot be tied to a
data scope are refused when the data source is defined."""
from __future__ import annotations

import pytest

from application.forms.engine.sql_guard import CheckedSql, DataSourceLimitError, check_select
from domain.forms.data_source import DataSource
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id

ATTACK = ("SELECT login_name AS login, password_hash AS secret FROM access_operators"
          " WHERE EXISTS (WITH access_operators AS (SELECT 1) SELECT 1 FROM access_operators)")


@pytest.fixture
def forms(container, ctx):
    profiles = [{"fund_account": f"880{i:05d}", "name": f"客户{i}", "subject": "individual", "id_number": f"ID{i}",
                 "account_manager": "li.na" if i % 2 else "wang.fang", "phone": "13812345678"} for i in range(6)]
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
                                       connection="main", timeout_ms=1000, row_limit=10, cache_seconds=0)
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
                                     timeout_ms=1000, row_limit=10, cache_seconds=0)
                assert rows == [{"fund_account": "88000001"}]
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
