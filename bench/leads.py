"""Lead intake throughput: ingested + filtered + assigned through the application layer on
PostgreSQL, beside a raw INSERT baseline in the same run.

Run from the repository root::

    .venv/bin/python bench/leads.py                       # embedded PostgreSQL in a temp dir
    .venv/bin/python bench/leads.py --leads 50000 --batch 1000
    .venv/bin/python bench/leads.py --database-url postgresql://postgres@127.0.0.1:5432/test

What one lead costs in the measured path (``LeadsApplication.intake``, batches of ``--batch``
rows, one writer): phone normalisation, the repeat check by natural id against the event
store, the 渠道1.0 binding lookup, the blacklist, a CEL custom filter, the rules' employees'
availability (the Staff port over the access aggregates, once per batch), rule selection with a
night-shift window, smooth weighted round-robin with caps, one ``Lead.Created`` (or
``IntakeRecorded``) event, and its share of one ``RuleBook.Allocated`` event — all saved in one
transaction per batch. The generated stream has ~4% repeats, ~2% malformed phones, ~2% bound
phones, ~1% blacklisted and ~1% caught by the CEL rule.

Baseline: the same number of rows INSERTed with psycopg ``executemany`` into a plain table
(uuid, phone, jsonb payload), one transaction per batch, no event store, no logic.
Target (from the issue): >= 1,000 leads/s. Projections are not running (they are
asynchronous and measured elsewhere). Timing code lives here only.
"""
from __future__ import annotations

import argparse
import platform
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson
import psycopg
from common import cpu_model, postgres_url

from application.access.service import AccessApplication
from application.leads.app import LeadsApplication
from domain.leads.allocation import RuleConfig
from domain.leads.replay import replay_assignments
from domain.leads.rulebook import rulebook_id
from domain.leads.settings import IntakeConfig
from domain.shared.context import CommandContext
from infrastructure.eventstore.store import EventStore
from infrastructure.leads.locks import LineTurns
from infrastructure.leads.staff import AccessStaff

TARGET = 1_000.0
LINE = "brokerage"
CTX = CommandContext("bench:leads", "bench")


def generate(n: int, seed: int = 5) -> tuple[list[dict], list[str], list[str]]:
    rng = random.Random(seed)
    rows: list[dict] = []
    bound = [f"135{i:08d}" for i in range(max(1, n // 50))]
    black = [f"136{i:08d}" for i in range(max(1, n // 100))]
    for i in range(n):
        r = rng.random()
        if r < 0.04 and rows:
            phone = rng.choice(rows)["phone"]
        elif r < 0.06:
            phone = f"1{rng.randint(0, 99999)}"          # malformed
        elif r < 0.08:
            phone = rng.choice(bound)
        elif r < 0.09:
            phone = rng.choice(black)
        elif r < 0.10:
            phone = f"170{rng.randint(0, 99_999_999):08d}"  # the CEL rule filters these
        else:
            phone = f"13{rng.randint(0, 9)}{i:08d}"
        rows.append({"phone": phone, "name": f"客户{i}", "fields": {"campaign": f"plan-{i % 7}"}})
    return rows, bound, black


def setup(store: EventStore) -> tuple[LeadsApplication, list[str]]:
    """The leads application as the composition root builds it for intake (interfaces/bootstrap.py):
    the Staff port over the access context, so rules take only employees who can receive leads
    and intake skips those who no longer can; the read models, the outbound adapters and the
    import progress are not on the measured path."""
    access = AccessApplication(store)
    leads = LeadsApplication(store, turns=LineTurns(store.datastore), staff=AccessStaff(access))
    access.create_business_line(CTX, LINE, "Brokerage")
    online = str(access.create_department(CTX, "online", "网金部", "online_finance", None).id)
    access.create_role(CTX, "lead_agent", "客户经理", ["leads.view", "leads.work"])
    employees = []
    for i in range(8):
        am = access.create_operator(CTX, f"am{i:02d}", f"AM {i}", uuid.UUID(online), None, None, None).id
        access.grant_roles(CTX, am, ["lead_agent"])
        access.set_business_lines(CTX, am, [LINE])
        employees.append(f"operator:am{i:02d}")
    leads.create_channel(CTX, "ths", "同花顺", "tonghuashun", "同花顺", LINE, online)
    leads.configure_intake(CTX, LINE, IntakeConfig(repeat_window_days=3, filter_rules=[
        {"name": "test-numbers", "expression": 'phone.startsWith("+86170")'}]))
    leads.save_rule(CTX, LINE, RuleConfig(
        key="weighted", name="权重分配", owner_department=online, channels=["ths"], strategy="weighted",
        members=[{"id": e, "weight": w, "cap": c} for e, w, c in zip(
            employees[:6], (5, 4, 3, 2, 1, 1), (None, None, 2000, None, None, 500), strict=True)]))
    leads.save_rule(CTX, LINE, RuleConfig(
        key="night", name="夜班单独分", owner_department=online, strategy="round_robin",
        members=[{"id": e} for e in employees[6:]],
        window={"days": [1, 2, 3, 4, 5, 6, 7], "start": "22:00", "end": "06:00"}))
    return leads, employees


def bench_app(url: str, rows: list[dict], bound: list[str], black: list[str], batch: int, warmup: int
              ) -> tuple[float, Counter, int]:
    store = EventStore(url, events_table="bench_lead_events", chain_key=b"bench-chain-key-0123456789abcdef",
                       pool_size=4)
    try:
        leads, _ = setup(store)
        for i in range(0, len(bound), 1000):
            leads.import_bindings(CTX, [{"phone": p, "kind": "account_manager", "holder": "operator:branch"}
                                        for p in bound[i:i + 1000]], "渠道1.0")
        leads.change_blacklist(CTX, LINE, black, [], "bench")
        warm = [{"phone": f"188{i:08d}"} for i in range(warmup)]
        for i in range(0, len(warm), batch):
            leads.intake(CTX, "ths", warm[i:i + batch], "api")
        statuses: Counter = Counter()
        t0 = time.perf_counter()
        for i in range(0, len(rows), batch):
            out = leads.intake(CTX, "ths", rows[i:i + batch], "api")
            statuses.update(r["status"] for r in out["results"])
        elapsed = time.perf_counter() - t0
        checked, mismatches = replay_assignments(leads.events.get(rulebook_id(LINE)))
        if mismatches:
            raise SystemExit(f"replay found {len(mismatches)} mismatches")
        return elapsed, statuses, checked
    finally:
        store.close()


def bench_raw(url: str, rows: list[dict], batch: int) -> float:
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_leads")
        conn.execute("CREATE TABLE bench_raw_leads (id uuid PRIMARY KEY, phone text NOT NULL, payload jsonb NOT NULL)")
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(0, len(rows), batch):
                cur.executemany("INSERT INTO bench_raw_leads VALUES (%s, %s, %s::jsonb)",
                                [(uuid.uuid4(), r["phone"], orjson.dumps(r).decode()) for r in rows[i:i + batch]])
                conn.commit()
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server URL (default: embedded in a temp dir)")
    parser.add_argument("--leads", type=int, default=20_000, help="leads in the measured run")
    parser.add_argument("--batch", type=int, default=500, help="rows per intake batch (one transaction)")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed leads first")
    args = parser.parse_args(argv)
    rows, bound, black = generate(args.leads)
    print(f"ledgerflow bench/leads.py — {cpu_model()} · Python {platform.python_version()}")
    with postgres_url(args.database_url) as (url, embedded):
        print(f"PostgreSQL: {'embedded' if embedded else url}; {args.leads} leads in batches of {args.batch}")
        raw = bench_raw(url, rows, args.batch)
        elapsed, statuses, checked = bench_app(url, rows, bound, black, args.batch, args.warmup)
    rate, raw_rate = args.leads / elapsed, args.leads / raw
    print(f"  outcomes: {dict(statuses)}; assignments replayed and matched: {checked}")
    print(f"  application (ingest + filter + assign): {rate:10,.0f} leads/s  ({elapsed:.2f} s)")
    print(f"  raw INSERT baseline (executemany):     {raw_rate:10,.0f} rows/s   ({raw:.2f} s)")
    print(f"  ratio application / raw:                {rate / raw_rate:10.2f}")
    verdict = "PASS" if rate >= TARGET else "FAIL"
    print(f"  {verdict}: target >= {TARGET:,.0f} leads/s")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
