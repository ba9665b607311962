"""`ledgerflow backup` and `ledgerflow restore` (ADR 0030): a firm's store is backed up, restored into
a fresh data directory and database, and comes back with an intact chain and the same read models;
a damaged backup, other keys or a store that already holds events are refused."""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.sql import SQL, Identifier
from typer.testing import CliRunner

from application.archive.filing import Filing
from domain.shared.context import CommandContext
from interfaces.cli.backup import read_models
from interfaces.cli.main import app
from tests.archive_samples import pdf, png
from tests.engines import EngineSet, fresh_database, running_container
from tests.integration.flow_firm import ADMIN, START, as_, open_task
from tests.integration.flow_firm import set_up as set_up_flow_firm

CHAIN_KEY = "test-audit-chain-key-0123456789abcdef"  # make_settings' keys
MASTER_KEY = "test-master-key-0123456789abcdef"
SOURCES_OF_TRUTH = {"ledgerflow_events", "ledgerflow_events_chain", "compliance_list_entries", "notifications_outbox"}


@pytest.fixture(scope="module")
def source(engines: EngineSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A firm with flows (one completed), leads, archived documents (blobs) and a screening list,
    every projection caught up, and an anchors file."""
    if engines.mode != "embedded":  # as the embedded_only fixture, before the firm is built
        pytest.skip("backup and restore read and write through a database URL: the same in both modes")
    data_dir = tmp_path_factory.mktemp("source")
    with running_container(engines, data_dir) as container:
        set_up_flow_firm(container)
        flows = container.flows
        done = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="甲公司签约")
        while flows.instance(done.id).status == "running":
            task = open_task(flows.instance(done.id))
            flows.approve(CommandContext(task["candidates"][0], "approve"), done.id, task["id"], "ok")
        flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="乙公司签约")
        department = str(container.access.create_department(ADMIN, "NET", "网金", "online_finance", None).id)
        container.leads.create_channel(ADMIN, "ths", "同花顺", "tonghuashun", "同花顺", "brokerage", department)
        container.leads.intake(ADMIN, "ths", [{"phone": f"1380000{i:04d}", "name": f"客户{i}"} for i in range(30)],
                               "api")
        for name, content in (("id.png", png()), ("contract.pdf", pdf())):
            container.archive.upload(ADMIN, [content], filename=name, declared_type=None, filing=Filing(
                customer="88001234", fund_account=None, business_line="brokerage", category="id_card"))
        container.compliance.load_list(ADMIN, "internal", "internal.csv",
                                       "entry_id,name,aliases,id_type,id_number,birth_date,remarks\n"
                                       "e1,张三,,id_card,110101199001011234,1990-01-01,\n".encode())
        for runner in container.runners.values():
            runner.catch_up()
        assert container.audit.checkpoint() is not None  # written to <data_dir>/audit/anchors.jsonl
        yield {"container": container, "data_dir": data_dir}


def _url(container) -> str:
    return container.engines.database_url


def env_for(engines: EngineSet, data_dir: Path, database_url: str, clickhouse_database: str,
            **overrides: str) -> dict[str, str]:
    return {"LEDGERFLOW_MODE": "test", "LEDGERFLOW_DATA_DIR": str(data_dir), "LEDGERFLOW_DATABASE_URL": database_url,
            "LEDGERFLOW_REDIS_URL": engines.redis_url, "LEDGERFLOW_CLICKHOUSE_URL": engines.clickhouse_url,
            "LEDGERFLOW_CLICKHOUSE_DATABASE": clickhouse_database,
            "LEDGERFLOW_REDIS_PREFIX": f"{clickhouse_database}:",
            "LEDGERFLOW_BOOTSTRAP_ADMIN_TOKEN": "test-admin-token-0123456789abcdef",
            "LEDGERFLOW_AUDIT_CHAIN_KEY": CHAIN_KEY, "LEDGERFLOW_MASTER_KEY": MASTER_KEY, **overrides}


def cli(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def backup(source: dict, engines: EngineSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("backups") / "full"
    c = source["container"]
    result = cli(["backup", str(dest)], env_for(engines, source["data_dir"], _url(c), c.settings.clickhouse_database))
    assert result.exit_code == 0, result.output
    return dest


def rows_of(database_url: str, table: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        return sorted(repr(r) for r in conn.execute(SQL("SELECT * FROM {t}").format(t=Identifier(table))))


def test_a_restore_into_a_fresh_data_directory_verifies_and_rebuilds_every_read_model_as_it_was(
        source: dict, backup: Path, engines: EngineSet, tmp_path: Path):
    c = source["container"]
    manifest = json.loads((backup / "manifest.json").read_text())
    with psycopg.connect(_url(c)) as conn:
        every_table = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    included, excluded = set(manifest["tables"]), set(manifest["excluded_tables"])
    # Every table but the read models and the idempotency keys (no source of truth), whichever
    # feature added it (today the four below).
    assert "ledgerflow_events_idempotency" in every_table
    assert included | excluded == every_table and excluded == read_models() | {"ledgerflow_events_idempotency"}
    assert included >= SOURCES_OF_TRUTH
    assert manifest["head_position"] == manifest["tables"]["ledgerflow_events"]["rows"] == c.store.head()
    assert CHAIN_KEY not in (backup / "manifest.json").read_text() and "audit_chain_key" in manifest["keys"]

    with fresh_database(engines) as target_url:
        restored = cli(["restore", str(backup)], env_for(engines, tmp_path, target_url, "lf_test_restored"))
        assert restored.exit_code == 0, restored.output
        assert "chain intact" in restored.output

        pg_tables = sorted(read_models() - {"projection_tracking", "projection_parked"})
        differing = [t for t in pg_tables if rows_of(_url(c), t) != rows_of(target_url, t)]
        assert differing == []
        assert sum(len(rows_of(target_url, t)) for t in pg_tables) > 100  # the comparison compared something
        for sink in (r.projection for r in c.runners.values() if r.projection.kind == "clickhouse"):
            for table in sink.tables:
                counts = [c.clickhouse.query(f"SELECT count() FROM {db}.`{table}` FINAL")[0][0]
                          for db in (c.clickhouse.db, "`lf_test_restored`")]
                assert counts[0] == counts[1], table
        c.clickhouse.command("DROP DATABASE IF EXISTS `lf_test_restored`")
    source_blobs = sorted(p.name for p in (source["data_dir"] / "blobs").glob("??/??/*"))
    assert len(source_blobs) == 2 and sorted(p.name for p in (tmp_path / "blobs").glob("??/??/*")) == source_blobs
    anchors = "audit/anchors.jsonl"
    assert (tmp_path / anchors).read_bytes() == (source["data_dir"] / anchors).read_bytes()


def test_a_corrupted_backup_file_is_refused_before_anything_is_written(backup: Path, engines: EngineSet,
                                                                       tmp_path: Path):
    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    events = damaged / "postgres" / "ledgerflow_events.copy.gz"
    data = bytearray(events.read_bytes())
    data[len(data) // 2] ^= 0x01
    events.write_bytes(bytes(data))
    with fresh_database(engines) as target_url:
        refused = cli(["restore", str(damaged)], env_for(engines, tmp_path / "data", target_url, "lf_test_refused"))
        assert refused.exit_code == 2, refused.output
        assert "ledgerflow_events.copy.gz does not match its checksum" in " ".join(refused.output.split())
        with psycopg.connect(target_url) as conn:  # nothing was started, nothing created
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


def test_a_backup_whose_file_and_checksum_were_both_changed_is_refused_by_the_manifest_mac(
        backup: Path, engines: EngineSet, tmp_path: Path):
    """Checksums beside the files prove nothing alone: whoever changes a file can change its
    checksum too. The manifest's MAC needs the chain key."""
    forged = tmp_path / "forged"
    shutil.copytree(backup, forged)
    events = forged / "postgres" / "ledgerflow_events.copy.gz"
    events.write_bytes(gzip.compress(b""))
    manifest = json.loads((forged / "manifest.json").read_text())
    manifest["files"]["postgres/ledgerflow_events.copy.gz"] = {
        "sha256": hashlib.sha256(events.read_bytes()).hexdigest(), "bytes": events.stat().st_size}
    manifest["tables"]["ledgerflow_events"]["rows"] = 0
    (forged / "manifest.json").write_text(json.dumps(manifest))
    with fresh_database(engines) as target_url:
        refused = cli(["restore", str(forged)], env_for(engines, tmp_path / "data", target_url, "lf_test_refused"))
    assert refused.exit_code == 2, refused.output
    assert "manifest's MAC does not match" in " ".join(refused.output.split())


def test_a_restore_under_another_chain_key_is_refused(backup: Path, engines: EngineSet, tmp_path: Path):
    with fresh_database(engines) as target_url:
        refused = cli(["restore", str(backup)], env_for(
            engines, tmp_path, target_url, "lf_test_refused", LEDGERFLOW_AUDIT_CHAIN_KEY="another-key-0123456789abcdef"))
    assert refused.exit_code == 2, refused.output
    assert "audit_chain_key is not the one the backup was made with" in " ".join(refused.output.split())


def test_a_store_that_already_holds_events_is_replaced_only_with_force(source: dict, backup: Path,
                                                                      engines: EngineSet, tmp_path: Path):
    """(Last in the module: it replaces the source's store with the backup's, which is the same.)"""
    c = source["container"]
    head, leads = c.store.head(), rows_of(_url(c), "leads_leads")
    env = env_for(engines, tmp_path, _url(c), c.settings.clickhouse_database)
    refused = cli(["restore", str(backup)], env)
    assert refused.exit_code == 2, refused.output
    assert "already hold rows" in " ".join(refused.output.split()) and c.store.head() == head
    replaced = cli(["restore", str(backup), "--force"], env)
    assert replaced.exit_code == 0, replaced.output
    assert c.store.head() == head and rows_of(_url(c), "leads_leads") == leads and len(leads) == 30
