"""Monitoring board (GET /api/v1/flows/instances): a filtered first page vs a primary-key lookup.

Run from the repository root (never in the test suite; minutes at 1M)::

    nice .venv/bin/python bench/monitor.py                    # embedded PostgreSQL in a temp dir
    nice .venv/bin/python bench/monitor.py --instances 100000 --database-url postgresql://...

One run, one fresh database: the read-model tables are created from
``FlowInstancesProjection.schema`` (tables first, indexes after the load), ``--instances`` rows
(default 1,000,000; ~12% running, 20 departments, 5 business types, 500 handlers, 5% of the
running overdue) are loaded with COPY, VACUUM ANALYZE runs, and then each query below runs
``--runs`` times with varying parameters through the service's own ``MonitorQueries``. The
figures are printed as p50/p95 in ms and as the ratio of each p95 to the primary-key lookup's
p95 (target: within 3×).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402
import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from bench.common import cpu_model, postgres_url  # noqa: E402
from projections.flows.instances import FlowInstancesProjection  # noqa: E402
from projections.flows.monitor import MonitorQueries  # noqa: E402

COLS = ("id, definition_key, definition_version, business_type, title, status, business_line, department_id,"
        " fund_account, initiator, tokens, current_nodes, visited, started_at, updated_at, version, position,"
        " ended_at, handlers, overdue, urgent, sla_due_at, summary, search")
NODES = ["ops_entry", "ops_review", "clearing_entry", "clearing_review", "finance_entry", "finance_review"]
TYPES = [f"type_{i}" for i in range(5)]
COMPANIES = ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬", "癸"]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def ts(value: datetime | None) -> str:
    return value.isoformat() if value else "\\N"


class Rows:
    def __init__(self, seed: int, departments: list[uuid.UUID]):
        self.rng = random.Random(seed)
        self.departments = departments

    def chunk(self, start: int, n: int) -> str:
        r, out = self.rng, []
        for i in range(start, start + n):
            iid = uuid.UUID(int=r.getrandbits(128), version=4)
            bt = TYPES[i % 5]
            dept = self.departments[r.randrange(len(self.departments))]
            started = T0 + timedelta(seconds=i * 30 + r.randrange(30))
            running = r.random() < 0.12
            node = r.choice(NODES)
            handlers = sorted({f"operator:op{r.randrange(500)}" for _ in range(r.randint(1, 3))}) if running else []
            overdue = running and r.random() < 0.05
            urgent = running and (overdue or r.random() < 0.03)
            due = started + timedelta(hours=r.randint(4, 96)) if running else None
            ended = None if running else started + timedelta(hours=r.randint(1, 200))
            company = f"{r.choice(COMPANIES)}{r.choice(COMPANIES)}公司{i % 9973}"
            account = f"8800{i:08d}"
            summary = {"basic.tenant_name_cn": company, "commercial.term_months": 12}
            title = f"{company}签约"
            search = f"{title} {account} {company} 12".lower()
            tokens = '{"t1": "' + node + '"}' if running else "{}"
            current = "{" + node + "}" if running else "{}"
            out.append(
                f"{iid}\t{bt}\t1\t{bt}\t{title}\t{'running' if running else 'completed'}\tbrokerage\t{dept}\t"
                f"{account}\toperator:sales{i % 300}\t{tokens}\t{current}\t{{start,{node}}}\t{ts(started)}\t"
                f"{ts(ended or started + timedelta(hours=1))}\t5\t{i + 1}\t{ts(ended)}\t{{{','.join(handlers)}}}\t"
                f"{'t' if overdue else 'f'}\t{'t' if urgent else 'f'}\t{ts(due)}\t"
                f"{orjson.dumps(summary).decode()}\t{search}\n")
        return "".join(out)


def load(url: str, n: int, departments: list[uuid.UUID]) -> None:
    stmts = list(FlowInstancesProjection.schema)
    indexes = [s for s in stmts if s.lstrip().upper().startswith("CREATE INDEX")]
    with psycopg.connect(url, autocommit=True) as conn:
        for stmt in stmts:
            if stmt not in indexes:
                conn.execute(stmt)
        conn.execute("INSERT INTO flows_version_facts VALUES " + ", ".join(
            f"('{bt}', 1, '{orjson.dumps({n: n.upper() for n in NODES}).decode()}', '{{}}')" for bt in TYPES))
    rows, t0, chunk = Rows(7, departments), time.perf_counter(), 20_000
    print(f"  loading {n:,} instances with COPY ...", flush=True)
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(f"COPY flows_instances ({COLS}) FROM STDIN") as cp:
            for start in range(0, n, chunk):
                cp.write(rows.chunk(start, min(chunk, n - start)))
        conn.commit()
    print(f"  COPY {time.perf_counter() - t0:.1f} s", flush=True)
    t1 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        for stmt in indexes:
            conn.execute(stmt)
        conn.execute("VACUUM (ANALYZE) flows_instances")
    print(f"  indexes + VACUUM ANALYZE {time.perf_counter() - t1:.1f} s", flush=True)


class Db:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def fetch_all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return self.conn.execute(sql, params).fetchall()

    def fetch_one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        rows = self.fetch_all(sql, params)
        return rows[0] if rows else None


def scope(departments: list[uuid.UUID] | None) -> dict[str, Any]:
    return {"all_lines": False, "lines": ["brokerage"], "all_departments": departments is None,
            "departments": departments or [], "accounts": []}


def measure(label: str, runs: int, call: Any) -> list[float]:
    for _ in range(10):
        call()
    times = []
    for _ in range(runs):
        s = time.perf_counter()
        call()
        times.append((time.perf_counter() - s) * 1000)
    return times


def p(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100)[int(q) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    rng = random.Random(11)
    departments = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(20)]
    print(f"bench/monitor.py: {args.instances:,} instances, {args.runs} runs per query; CPU {cpu_model()}")
    with postgres_url(args.database_url) as (url, embedded):
        load(url, args.instances, departments)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            q = MonitorQueries(Db(conn))
            ids = [r["id"] for r in conn.execute("SELECT id FROM flows_instances TABLESAMPLE SYSTEM (1) LIMIT 5000")]
            queries = {
                "pk lookup": lambda: conn.execute("SELECT * FROM flows_instances WHERE id = %s",
                                                  (rng.choice(ids),)).fetchall(),
                "branch monitor: running, newest first": lambda: q.instances(
                    scope([rng.choice(departments)]), {"status": "running"}),
                "branch monitor: running, one type, by SLA due": lambda: q.instances(
                    scope([rng.choice(departments)]), {"status": "running", "business_type": rng.choice(TYPES)},
                    sort="sla_due"),
                "firm-wide: running + overdue, by SLA due": lambda: q.instances(
                    scope(None), {"status": "running", "overdue": True}, sort="sla_due"),
                "firm-wide: running at a node, updated": lambda: q.instances(
                    scope(None), {"status": "running", "node": rng.choice(NODES)}, sort="updated"),
                "firm-wide: a handler's instances": lambda: q.instances(
                    scope(None), {"status": "running", "handler": f"operator:op{rng.randrange(500)}"}),
                "firm-wide: keyword (company name)": lambda: q.instances(
                    scope(None), {"keyword": f"{rng.choice(COMPANIES)}{rng.choice(COMPANIES)}公司"}),
                "branch monitor: a department's page 2 (cursor)": lambda: q.instances(
                    scope([departments[0]]), {"status": "running"},
                    after=(T0 + timedelta(days=rng.randrange(300)), uuid.UUID(int=0))),
            }
            results = {name: measure(name, args.runs, call) for name, call in queries.items()}
    base = p(results["pk lookup"], 95)
    print(f"\n  {'query (first page of 50)':<48} {'p50 ms':>8} {'p95 ms':>8} {'p95 / pk':>9}")
    for name, times in results.items():
        print(f"  {name:<48} {p(times, 50):8.2f} {p(times, 95):8.2f} {p(times, 95) / base:8.1f}×")
    print(f"\n  target: a filtered first page within 3× of the primary-key lookup ({'embedded' if embedded else url})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
