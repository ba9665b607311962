"""Audit: trails, state as of a time, and tamper evidence detected by `audit verify`."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from interfaces.cli.main import app as cli


def _tamper(container, sql, params):
    with container.store.datastore.get_connection() as conn:
        conn.execute(sql, params)


def _cli_env(container):
    s = container.settings
    return {
        "LEDGERFLOW_DATABASE_URL": container.engines.database_url,
        "LEDGERFLOW_REDIS_URL": container.engines.redis_url,
        "LEDGERFLOW_CLICKHOUSE_URL": container.engines.clickhouse_url,
        "LEDGERFLOW_CLICKHOUSE_DATABASE": s.clickhouse_database,
        "LEDGERFLOW_REDIS_PREFIX": s.redis_prefix,
        "LEDGERFLOW_DATA_DIR": str(s.data_dir),
        "LEDGERFLOW_MODE": "test",
        "LEDGERFLOW_BOOTSTRAP_ADMIN_TOKEN": s.bootstrap_admin_token.get_secret_value(),
        "LEDGERFLOW_AUDIT_CHAIN_KEY": s.audit_chain_key.get_secret_value(),
        "LEDGERFLOW_MASTER_KEY": s.master_key.get_secret_value(),
    }


def test_verify_detects_an_update_of_a_stored_event(container, ctx):
    ids = [container.access.create_department(ctx, f"D{i}", f"Dept {i}", "other", None).id for i in range(5)]
    assert container.audit.verify().ok
    table = container.settings.events_table
    _tamper(container, f"UPDATE {table} SET state = convert_to(replace(convert_from(state, 'UTF8'), 'Dept 2', 'Dept X'), 'UTF8')"
                       " WHERE originator_id = %s", (ids[2],))
    report = container.audit.verify()
    assert not report.ok
    assert report.first_break == 3
    assert [(p.position, p.kind) for p in report.problems] == [(3, "modified")]


def test_verify_detects_a_deleted_row(container, ctx):
    for i in range(5):
        container.access.create_department(ctx, f"D{i}", f"Dept {i}", "other", None)
    _tamper(container, f"DELETE FROM {container.settings.events_table} WHERE notification_id = %s", (4,))
    report = container.audit.verify()
    assert [(p.position, p.kind) for p in report.problems] == [(4, "deleted")]


def test_deleting_a_middle_event_with_its_chain_entry_reports_only_that_position(container, ctx):
    for i in range(5):
        container.access.create_department(ctx, f"D{i}", f"Dept {i}", "other", None)
    t = container.settings.events_table
    _tamper(container, f"DELETE FROM {t} WHERE notification_id = %s", (2,))
    _tamper(container, f"DELETE FROM {t}_chain WHERE notification_id = %s", (2,))
    report = container.audit.verify()
    assert [(p.position, p.kind) for p in report.problems] == [(2, "deleted")]


def test_an_event_inserted_outside_the_store_is_reported_as_unchained(container, ctx):
    for i in range(3):
        container.access.create_department(ctx, f"D{i}", f"Dept {i}", "other", None)
    t = container.settings.events_table
    _tamper(container, f"INSERT INTO {t} (originator_id, originator_version, topic, state, notification_id)"
                       f" SELECT gen_random_uuid(), 1, topic, state, 7 FROM {t} WHERE notification_id = 1", ())
    report = container.audit.verify()
    assert [(p.position, p.kind) for p in report.problems] == [(7, "unchained")] and report.checked == 4


def test_truncating_the_newest_events_after_a_checkpoint_is_reported_with_the_missing_range(container, ctx):
    for i in range(8):
        container.access.create_department(ctx, f"D{i}", f"Dept {i}", "other", None)
    anchored = container.audit.checkpoint()
    assert anchored is not None and anchored.position == 8
    t = container.settings.events_table
    _tamper(container, f"DELETE FROM {t} WHERE notification_id > %s", (5,))
    _tamper(container, f"DELETE FROM {t}_chain WHERE notification_id > %s", (5,))
    for since_checkpoint in (False, True):
        report = container.audit.verify(since_checkpoint=since_checkpoint)
        assert [(p.position, p.kind) for p in report.problems] == [(6, "missing")]
        assert report.problems[0].detail.startswith("events 6–8 are missing: the checkpoint at "
                                                    f"{anchored.at.isoformat(timespec='seconds')} recorded head 8")


def test_cli_verify_and_trail(container, ctx):
    dept = container.access.create_department(ctx, "SH01", "Shanghai", "branch", None)
    container.access.rename_department(ctx, dept.id, "Shanghai Branch", 1)
    runner = CliRunner()
    env = _cli_env(container)

    ok = runner.invoke(cli, ["audit", "verify"], env=env)
    assert ok.exit_code == 0 and "2 events verified" in ok.output

    trail = runner.invoke(cli, ["audit", "trail", str(dept.id), "--json"], env=env)
    assert trail.exit_code == 0, trail.output
    entries = json.loads(trail.output)
    assert [e["event_type"] for e in entries] == ["Created", "Renamed"]
    assert entries[1]["changes"]["name"] == {"old": "Shanghai", "new": "Shanghai Branch"}
    assert entries[1]["actor"] == "op:tester"

    _tamper(container, f"UPDATE {container.settings.events_table} SET state = state || '\\x20'::bytea"
                       " WHERE notification_id = 2", ())
    broken = runner.invoke(cli, ["audit", "verify"], env=env)
    assert broken.exit_code == 1 and "chain broken at position 2" in broken.output


def test_cli_lists_and_rebuilds_projections(container, ctx):
    for i in range(3):
        container.access.create_department(ctx, f"D{i}", f"Dept {i}", "other", None)
    runner = CliRunner()
    env = _cli_env(container)
    status = runner.invoke(cli, ["projections", "status", "--json"], env=env)
    assert status.exit_code == 0, status.output
    from projections.registry import all_projections

    assert {p["name"]: p["lag"] for p in json.loads(status.output)} == {p.name: 3 for p in all_projections()}
    rebuilt = runner.invoke(cli, ["projections", "rebuild", "access.departments"], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert container.runners["access.departments"].status().lag == 0
    unknown = runner.invoke(cli, ["projections", "rebuild", "nope"], env=env)
    assert unknown.exit_code == 2 and "unknown projection" in unknown.output
