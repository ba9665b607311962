"""Forms on real engines: hostile SQL data sources refused or stopped, records and their diffs."""
from __future__ import annotations

import pytest

from domain.forms.checked_sql import CheckedSql, DataSourceLimitError
from domain.shared.errors import InvalidInputError, RuleViolationError
from interfaces.demo_forms import FEE_RATE


@pytest.fixture
def forms(container, ctx):
    container.access.create_business_line(ctx, "brokerage", "Brokerage")
    profiles = [{"fund_account": f"880{i:05d}", "name": f"客户{i}", "subject": "individual",
                 "account_manager": "li.na" if i % 2 else "wang.fang", "phone": "13812345678"} for i in range(40)]
    container.forms.sync_customers(ctx, profiles)
    container.runners["forms.catalogue"].catch_up()
    return container.forms


def _define(forms, ctx, sql, **config):
    return forms.define_data_source(ctx, "probe", "probe", "sql", {"sql": sql, **config})


@pytest.mark.parametrize("sql,reason", [
    ("SELECT 1 FROM forms_customers; SELECT 2", "exactly one statement"),
    ("DROP TABLE forms_customers", "only SELECT"),
    ("CREATE TABLE x AS SELECT * FROM forms_customers", "only SELECT"),
    ("UPDATE forms_customers SET name = 'x'", "only SELECT"),
    ("DELETE FROM forms_customers", "only SELECT"),
    ("WITH gone AS (DELETE FROM forms_customers RETURNING *) SELECT * FROM gone", "data-modifying"),
    ("SELECT * INTO stolen FROM forms_customers", "SELECT INTO"),
    ("SELECT pg_sleep(30) FROM forms_customers", "pg_sleep"),
    ("SELECT * FROM access_operators", "outside the allow-list"),
    ("SELECT * FROM pg_catalog.pg_authid", "outside the allow-list"),
    ("SELECT * FROM generate_series(1, 1000000000)", "functions in FROM"),
    ("SELECT set_config('statement_timeout', '0', false) FROM forms_customers", "set_config"),
    ("SELECT * FROM forms_customers FOR UPDATE", "locking"),
])
def test_hostile_sql_data_sources_are_refused(forms, ctx, sql, reason):
    with pytest.raises(RuleViolationError) as err:
        _define(forms, ctx, sql)
    assert reason in err.value.message and err.value.field == "config.sql"


def test_a_query_running_past_the_timeout_is_stopped(forms, ctx):
    # Outputs a scope column: unscoped customer rows (a bare count) are refused at definition.
    slow = ("SELECT a.fund_account FROM forms_customers a WHERE (SELECT count(*) FROM forms_customers b,"
            " forms_customers c, forms_customers d, forms_customers e, forms_customers f) > 0")
    _define(forms, ctx, slow, timeout_ms=200, cache_seconds=0)
    with pytest.raises(RuleViolationError, match="longer than 200 ms"):
        forms.query_data_source("probe", {})


def test_pg_sleep_is_stopped_at_run_time_even_past_the_parser(forms):
    sneaky = CheckedSql("SELECT pg_sleep(5)", (), (), "SELECT pg_sleep(5)")
    with pytest.raises(DataSourceLimitError, match="longer than 100 ms"):
        forms.sql_runner.run("x", sneaky, {}, connection="main", timeout_ms=100, row_limit=10, cache_seconds=0)


def test_writes_are_stopped_at_run_time_even_past_the_parser(forms, container):
    # A SELECT that writes is stopped by the read-only transaction (or, where the server lets a
    # large-object call through read-only mode, rolled back with it); any other statement cannot
    # even run, since the runner wraps the statement in a SELECT.
    def large_objects() -> int:
        with container.store.datastore.get_connection() as conn:
            return conn.execute("SELECT count(*) AS n FROM pg_largeobject_metadata").fetchone()["n"]

    before = large_objects()
    sneaky = CheckedSql("SELECT lo_create(0) AS o", (), (), "SELECT lo_create(0) AS o")
    try:
        forms.sql_runner.run("x", sneaky, {}, connection="main", timeout_ms=1000, row_limit=10, cache_seconds=0)
    except DataSourceLimitError as exc:
        assert "tried to write" in str(exc) or "permission denied" in str(exc)
    assert large_objects() == before
    sneaky = CheckedSql("DELETE FROM forms_customers", (), (), "DELETE FROM forms_customers")
    with pytest.raises(DataSourceLimitError, match="syntax error"):
        forms.sql_runner.run("x", sneaky, {}, connection="main", timeout_ms=1000, row_limit=10, cache_seconds=0)


def test_a_row_explosion_beyond_the_limit_is_refused(forms, ctx):
    _define(forms, ctx, "SELECT a.fund_account FROM forms_customers a, forms_customers b", row_limit=100,
            cache_seconds=0)
    with pytest.raises(RuleViolationError, match="more than 100 rows"):
        forms.query_data_source("probe", {})


def test_a_parameterised_query_answers_and_is_cached(forms, ctx):
    _define(forms, ctx, "SELECT fund_account FROM forms_customers WHERE account_manager = :manager"
                        " ORDER BY fund_account", cache_seconds=60)
    first = forms.query_data_source("probe", {"manager": "li.na"})
    second = forms.query_data_source("probe", {"manager": "li.na"})
    assert len(first["rows"]) == 20 and not first["cached"] and second == {**first, "cached": True}
    with pytest.raises(RuleViolationError, match="missing parameters: manager"):
        forms.query_data_source("probe", {})


def test_an_injection_attempt_is_just_a_parameter_value(forms, ctx):
    _define(forms, ctx, "SELECT fund_account FROM forms_customers WHERE name = :name", cache_seconds=0)
    assert forms.query_data_source("probe", {"name": "x' OR '1'='1"})["rows"] == []


def test_records_keep_a_patch_history_and_a_diff_view_by_row_id(container, forms, ctx):
    forms.create_business_type(ctx, "fee_rate_change", "Fee rate", "brokerage", "", ["individual"])
    forms.save_draft(ctx, "fee_rate_change", "individual", FEE_RATE, None)
    forms.publish(ctx, "fee_rate_change", None)
    data = {"customer": {"fund_account": "88000001"}, "exchange": "SHFE", "effective_date": "2026-12-01",
            "rates": [{"id": "r1", "product": "cu", "rate": 2.0}, {"id": "r2", "product": "al", "rate": 1.5}]}
    started = forms.start_record(ctx, "fee_rate_change", "individual", data, node="start")
    edited = {**data, "exchange": "DCE",
              "rates": [{"id": "r2", "product": "al", "rate": 1.8}, {"id": "r3", "product": "zn", "rate": 2.2}]}
    forms.save_record(ctx, started.id, edited, "ops_review", 1)
    container.runners["forms.records"].catch_up()
    record = container.forms_queries.record(started.id)
    assert record["data"]["rates"][0]["multiple_of_exchange"] == 3.6 and record["version"] == 2
    changes = {(c["kind"], c["path"], c["node"]) for c in container.forms_queries.changes(started.id)}
    assert changes == {("changed", "exchange", "ops_review"), ("changed", "rates[id=r2].rate", "ops_review"),
                       ("changed", "rates[id=r2].multiple_of_exchange", "ops_review"),
                       ("removed", "rates[id=r1]", "ops_review"), ("added", "rates[id=r3]", "ops_review")}
    saved = container.audit.trail(started.id)[-1]
    assert saved.data["old_values"]["/exchange"] == "SHFE" and saved.data["node"] == "ops_review"
    with pytest.raises(InvalidInputError) as err:
        forms.save_record(ctx, started.id, {**edited, "exchange": "NOPE"}, "ops_review", 2)
    assert err.value.errors[0]["path"] == "exchange" and err.value.errors[0]["rule"] == "enum"


def test_publishing_an_invalid_draft_names_every_problem(forms, ctx):
    forms.create_business_type(ctx, "broken", "Broken", "brokerage", "", ["individual", "institution"])
    forms.save_draft(ctx, "broken", "individual", {"type": "object", "properties": {
        "a": {"type": "string", "x-component": "Input", "x-reactions": [{"fulfill": {"value": "b +"}}]}}}, None)
    forms.save_draft(ctx, "broken", "institution", {"type": "object", "properties": {
        "b": {"type": "string", "x-component": "Unknown"}}}, None)
    with pytest.raises(InvalidInputError) as err:
        forms.publish(ctx, "broken", None)
    paths = {e["path"] for e in err.value.errors}
    assert paths == {"individual:a.x-reactions[0]", "institution:b"}
    assert forms.business_type("broken").versions == []  # nothing published
