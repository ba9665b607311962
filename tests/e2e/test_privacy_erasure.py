"""Erasure (crypto-shredding, ADR 0028) over HTTP and the CLI: after a lead and a customer are
erased, no clear value of theirs is left in PostgreSQL (every table, events' bytes included),
ClickHouse, Redis or the blob store; their trails show "erased"; the chain still verifies; a
rebuild stays redacted; the erased lead is not found by its phone; the same phone comes in again as
a new lead; a kept answer quoting only a short value of the subject is still replayed. One firm, one erasure,
several checks (module-scoped: the set-up is the expensive part)."""
from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from starlette.testclient import TestClient

from domain.shared.context import CommandContext
from domain.shared.ids import natural_id
from interfaces.api.app import create_app
from tests.e2e.test_notification_deliveries_api import _login as login_with
from tests.engines import ADMIN_HEADERS as ADMIN
from tests.engines import running_container

SETUP = CommandContext("admin:test", "setup")
LINE = "brokerage"


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _unique_phone() -> tuple[str, str]:
    """(raw as a channel sends it, E.164): random, so a hit can only be this test's subject."""
    digits = "139" + f"{secrets.randbelow(10 ** 8):08d}"
    return f"{digits[:3]} {digits[3:7]} {digits[7:]}", "+86" + digits


@pytest.fixture(scope="module")
def erased(engines, tmp_path_factory):
    """A firm with two leads and two customers; one of each erased (the lead over HTTP, the
    customer through the CLI), read models caught up with the erasures."""
    with running_container(engines, tmp_path_factory.mktemp("privacy"), workers=True) as live, \
            TestClient(create_app(live)) as client:
        access = live.access
        access.create_business_line(SETUP, LINE, "Brokerage")
        online = str(access.create_department(SETUP, "online", "网金部", "online_finance", None).id)
        ok(client.post("/api/v1/leads/channels", headers=ADMIN, json={
            "code": "ths", "name": "同花顺", "channel_type": "tonghuashun", "promotion_type": "同花顺",
            "business_line": LINE, "department_id": online}), 201)
        token = ok(client.post("/api/v1/leads/channels/ths/token", headers=ADMIN))["token"]
        raw, e164 = _unique_phone()
        other_raw, other_e164 = _unique_phone()
        name, other = f"Erasable{secrets.token_hex(4)}", f"Kept{secrets.token_hex(4)}"
        # Sent with an Idempotency-Key: the kept answer is one more place the subject must leave.
        intake = ok(client.post("/api/v1/leads/intake", headers={"X-Channel-Token": token,
                                                                 "Idempotency-Key": secrets.token_hex(8)}, json={"leads": [
            {"phone": raw, "name": name, "city": f"{name}-city", "level": "1"}, {"phone": other_raw, "name": other}]}))
        lead_id, kept_id = (r["lead_id"] for r in intake["results"])
        # Another kept answer, quoting none of the subject's values but its 1-character one ("row": 1).
        unrelated = {"X-Channel-Token": token, "Idempotency-Key": secrets.token_hex(8)}
        unrelated_body = {"leads": [{"phone": _unique_phone()[0], "name": f"Third{secrets.token_hex(4)}"}]}
        unrelated_answer = ok(client.post("/api/v1/leads/intake", headers=unrelated, json=unrelated_body))
        live.leads.follow_up(SETUP, lead_id_uuid(lead_id), f"called {name} on {e164}", True, None, None, None, [])
        customer = {"fund_account": "88000001", "name": f"Cust{secrets.token_hex(4)}",
                    "id_number": "110101199003077777", "phone": "13700000000",
                    "bank_account": "6222020000000000001", "address": f"Road{secrets.token_hex(3)}"}
        kept = {"fund_account": "88000002", "name": other, "id_number": "110101199003078888"}
        live.forms.sync_customers(SETUP, [customer, kept])
        customer_id = natural_id("customer", "88000001")
        auditor = login_with(client, live, "dpo_helper", ["audit.view", "leads.view"])

        first = client.post("/api/v1/privacy/erasures", headers=ADMIN, json={
            "subject_kind": "lead", "subject_id": lead_id, "reason": "PIPL art. 47 request, ticket 1"})
        again = client.post("/api/v1/privacy/erasures", headers=ADMIN, json={
            "subject_kind": "lead", "subject_id": lead_id, "reason": "asked twice"})
        refused = client.post("/api/v1/privacy/erasures", headers=auditor, json={
            "subject_kind": "lead", "subject_id": kept_id, "reason": "not mine to erase"})
        scoped = client.post("/api/v1/privacy/erasures", headers=login_with(client, live, "scoped_dpo", [
            "privacy.erase"]), json={"subject_kind": "lead", "subject_id": kept_id, "reason": "a branch's own"})
        cli = _cli_erase(live, customer_id)
        assert live.progress.wait_for(list(live.runners), live.store.head(), 20)
        yield {"live": live, "client": client, "raw": raw, "e164": e164, "name": name, "lead_id": lead_id,
               "kept_id": kept_id, "other_e164": other_e164, "other": other, "customer": customer,
               "customer_id": customer_id, "first": first, "again": again, "refused": refused, "scoped": scoped, "cli": cli,
               "token": token, "unrelated": (unrelated, unrelated_body, unrelated_answer)}


def lead_id_uuid(text: str) -> Any:
    from uuid import UUID

    return UUID(text)


def _cli_erase(live: Any, customer_id: Any) -> Any:
    from typer.testing import CliRunner

    from interfaces.cli.main import app as cli
    from tests.integration.test_audit import _cli_env

    return CliRunner().invoke(cli, ["privacy", "erase", "customer", str(customer_id), "--reason", "closed account,"
                                    " request 2", "--by", "operator:dpo"], env=_cli_env(live))


def _clear_values(s: dict[str, Any]) -> list[str]:
    digits = s["e164"][3:]
    c = s["customer"]
    return [s["e164"], digits, s["raw"], s["name"], c["name"], c["id_number"], c["phone"], c["bank_account"],
            c["address"]]


def _hits(text: str, values: list[str]) -> list[str]:
    return [v for v in values if v in text]


def _text(value: Any) -> str:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def test_the_erasure_answers_201_then_200_with_the_first_record_and_403_without_the_permission_or_firm_scope(
        erased):
    first, again = ok(erased["first"], 201), ok(erased["again"], 200)
    assert first["already_erased"] is False and again["already_erased"] is True
    assert again["id"] == first["id"] and again["erased_at"] == first["erased_at"]
    assert erased["refused"].status_code == 403
    assert erased["scoped"].status_code == 403 and "every business line" in erased["scoped"].json()["detail"]
    assert erased["cli"].exit_code == 0, erased["cli"].output
    assert "erased at" in erased["cli"].output


def test_no_clear_value_of_an_erased_subject_is_left_in_any_postgresql_table(erased):
    live, values = erased["live"], _clear_values(erased)
    found: dict[str, list[str]] = {}
    kept: set[str] = set()  # where the subject not erased shows in clear: the scan reads every table
    with live.store.datastore.get_connection() as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type ="
                              " 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')").fetchall()
        assert {t["table_name"] for t in tables} >= {live.settings.events_table, "leads_leads", "subject_keys",
                                                     "forms_customers", "projection_parked"}
        for t in tables:
            rows = conn.execute(f'SELECT * FROM "{t["table_schema"]}"."{t["table_name"]}"').fetchall()
            for row in rows:
                text = " ".join(_text(v) for v in row.values())
                if erased["other_e164"] in text:
                    kept.add(t["table_name"])
                hits = _hits(text, values)
                if hits:
                    found.setdefault(t["table_name"], []).extend(hits)
    assert found == {}
    # The lead kept shows in clear in its read models only: in the events its phone is sealed.
    assert kept == {"leads_leads", "leads_intakes"}
    lead = ok(erased["client"].get(f"/api/v1/leads/{erased['kept_id']}", headers=ADMIN))["lead"]
    assert lead["phone"] == erased["other_e164"]


def test_no_clear_value_is_left_in_clickhouse_redis_or_the_blob_store(erased):
    live, values = erased["live"], _clear_values(erased)
    ch = live.clickhouse
    tables = [r[0] for r in ch.client.query(f"SHOW TABLES FROM {ch.db}").result_rows]
    assert "lead_facts" in tables
    for table in tables:
        rows = ch.client.query(f"SELECT * FROM {ch.db}.{table}").result_rows
        assert _hits(" ".join(_text(v) for r in rows for v in r), values) == [], table
    import redis

    r = redis.Redis.from_url(live.engines.redis_url)
    readers = {"string": r.get, "hash": r.hgetall, "list": lambda k: r.lrange(k, 0, -1), "set": r.smembers,
               "zset": lambda k: r.zrange(k, 0, -1), "stream": r.xrange}
    for key in r.scan_iter(count=1000):
        content = readers.get(r.type(key).decode(), lambda k: b"")(key)
        assert _hits(_text(key) + repr(content), values) == [], key
    for path in (live.settings.data_dir / "blobs").rglob("*"):
        assert _hits(path.name, values) == []
        if path.is_file() and path.stat().st_size < 1_000_000:
            assert _hits(path.read_bytes().decode("utf-8", "replace"), values) == [], path


def test_the_erased_lead_reads_erased_in_its_detail_its_intakes_and_its_audit_trail(erased):
    client = erased["client"]
    detail = ok(client.get(f"/api/v1/leads/{erased['lead_id']}", headers=ADMIN))
    assert detail["lead"]["phone"] == "erased" and detail["lead"]["name"] == "erased"
    assert [(i["phone"], i["fields"]) for i in detail["intakes"]] == [
        ("erased", {"name": "erased", "city": "erased", "level": "erased"})]
    assert [t["detail"]["content"] for t in detail["timeline"] if t["kind"] == "follow_up"] == ["erased"]
    trail = ok(client.get(f"/api/v1/audit/aggregates/{erased['lead_id']}/trail", headers=ADMIN))["items"]
    assert trail[0]["data"]["phone"] == "erased"
    assert trail[0]["data"]["intake"]["fields"] == {"name": "erased", "city": "erased", "level": "erased"}
    assert trail[1]["data"]["content"] == "erased"
    erasure = ok(client.get(f"/api/v1/privacy/erasures/lead/{erased['lead_id']}", headers=ADMIN))
    assert erasure["requested_by"] == "admin:bootstrap"


def test_the_erased_lead_is_not_found_by_its_phone(erased):
    listed = ok(erased["client"].get("/api/v1/leads", headers=ADMIN, params={"phone": erased["raw"]}))
    assert erased["lead_id"] not in json.dumps(listed)
    with erased["live"].store.datastore.get_connection() as conn:
        row = conn.execute("SELECT phone_hash FROM leads_leads WHERE id = %s", (erased["lead_id"],)).fetchone()
    assert row["phone_hash"] is None


def test_a_kept_answer_quoting_only_a_short_value_of_the_subject_is_still_replayed(erased):
    headers, body, answer = erased["unrelated"]
    assert ok(erased["client"].post("/api/v1/leads/intake", headers=headers, json=body)) == answer


def test_the_chain_verifies_after_the_erasure(erased):
    report = ok(erased["client"].post("/api/v1/audit/verify", headers=ADMIN))
    assert report["ok"] is True and report["problems"] == []


def test_a_rebuild_yields_redacted_rows(erased):
    live = erased["live"]
    runner = live.runners["leads.leads"]
    live.store.keyring.forget()  # a fresh process: no key cached
    live.workers.stop()  # the workers hold the projection; the later checks need none of them
    runner.reset()
    runner.catch_up()
    row = live.lead_queries.lead(lead_id_uuid(erased["lead_id"]))
    assert row is not None and row["phone"] == "erased" and row["name"] == "erased"
    with live.store.datastore.get_connection() as conn:
        rebuilt = conn.execute("SELECT phone_hash FROM leads_leads WHERE id = %s", (erased["lead_id"],)).fetchone()
    assert rebuilt["phone_hash"] is None
    assert live.lead_queries.lead(lead_id_uuid(erased["kept_id"]))["phone"] == erased["other_e164"]


def test_the_same_phone_comes_in_again_as_a_new_lead(erased):
    client = erased["client"]
    out = ok(client.post("/api/v1/leads/intake", headers={"X-Channel-Token": erased["token"]},
                         json={"leads": [{"phone": erased["raw"], "name": "again"}]}))
    result = out["results"][0]
    assert (result["status"], result["flag"]) == ("valid", "new")
    assert result["lead_id"] != erased["lead_id"]
