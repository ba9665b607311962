"""Monitoring board (GET /api/v1/flows/instances): a filtered first page vs a primary-key lookup.

Run from the repository root (never in the test suite; minutes at 1M)::

    nice .venv/bin/python bench/monitor.py                    # embedded PostgreSQL in a temp dir
    nice .venv/bin/python bench/monitor.py --instances 100000 --database-url postgresql://...

One run, one fresh database: the read-model tables are created from
``FlowInstancesProjection.schema`` (tables first, indexes after the load), ``--instances`` rows
(default 1,000,000; ~12% running, 20 departments, 5 business types, 500 handlers, 5% of the
running overdue) are loaded with COPY, the handler side table is filled from them as the
projection keeps it, VACUUM ANALYZE runs. Then every query below runs ``--runs`` times with
varying parameters through the service's own ``MonitorQueries`` on the production read path
(``ReadModelDb``: the pooled psycopg connection, dict rows), interleaved round by round in a
shuffled order after a warm-up (every query sees the same cache and machine), GC paused while
timing. Printed: p50/p95/p99 in ms, rows per call, and each p95 over the p95 of the
primary-key lookup of a random instance (target: within 3x). A second column divides by a
primary-key lookup of 500 hot instances (always in shared buffers), the strictest baseline.

The queries (first page of 50, parameters drawn per call):

  pk lookup              SELECT * FROM flows_instances WHERE id = %s, a random instance (the baseline)
  pk lookup, hot         the same over 500 instances only (a reference, also in the ratio column)
  A  branch: running     a branch monitor (scope: its department) - status=running, newest first
  B  dept filter         firm-wide caller, department=X and status=running, newest first
  C  type + status       business_type=X and status=running, newest first (firm-wide)
  D  branch: type by SLA branch monitor, status=running and business_type=X, by SLA due
  E  handler             a current handler's instances (status=running, handler=X), newest first
  F  handler by SLA      the same, by SLA due
  G  overdue by SLA      status=running and overdue=true, by SLA due (firm-wide)
  H  node, updated       status=running at one current node, last updated first
  I  started range       instances started in one day (any status), newest first
  J  scoped caller       lines {brokerage}, 3 departments + 20 fund accounts, status=running, newest first
  K  keyword, common     keyword = a company-name fragment in ~1% of instances (any status)
  L  keyword, rare       keyword = one fund account number (one instance)
  M  branch: page 2      a branch monitor's running list from a cursor (keyset), newest first
  N  completed, dept     department=X and status=completed, newest first

Then: the board counts (a separate endpoint, no target), the plan of each query (generic plan,
as the prepared statement runs it: index and rows read), and the same timing again after
"churn": 2% of the running instances updated the way the projection updates them (new row
versions, visibility map bits cleared), before any vacuum, since index-only scans depend on it.

How the first page is served (projections/flows/monitor.py, board.py), and why:

  * the page's ids come first (an index walk that stops at 50 matches), then the 50 rows by
    primary key with their node names. The LIMIT is an integer literal and a known status one too,
    so a filter set is one prepared statement whose generic plan runs without planning per call:
    before, LIMIT was a parameter, so the generic plan looked costlier and every call was planned
    again (custom plans), ~0.3 ms of each page.
  * partial indexes on running instances (``WHERE status = 'running'``: most monitoring is of
    in-flight work) for each sort, firm-wide and per department, INCLUDE the short filter columns
    (line, department, fund account, type, definition, initiator, overdue, urgent, current nodes,
    times), so any other filter is checked inside the index and an index-only scan finds the ids;
    wider values (title, summary, search text, handlers) stay out: an entry over ~2.7 kB would park
    the event.
  * "current handler" walks a side table (one row per current handler, kept in the same ROLL_UP
    statement) in handler + sort order instead of a GIN bitmap over every instance of the handler
    followed by a sort.

  * the keyword is a LIKE of the escaped, lower-cased text (the same substring match as the
    strpos() before) so a pg_trgm GIN index can find a rare one, and it is planned per call (not
    prepared): a common fragment walks the list's order, a rare one (a fund account) uses the
    trigram index. The text column keeps a 1,000-entry histogram so the planner tells them apart.

What the figures mean, and what is not met:

  * "ref: 50 rows by primary key" reads 50 known running rows without any search: what sending
    and decoding a page of 21 columns costs in Python (dict rows, JSON summary). In the 1M run
    below it took p50 1.73 ms against 0.28 ms for the primary-key lookup (6x at p50, 2.4x at
    p95): the pages (p95 1.9-2.9 ms) are at this floor, so what is left is the cost of 50 rows,
    not of finding them. Under load (other work on the 2 cores: see the load average printed)
    every p95, the baseline's first, is inflated, which brings the ratios down: compare runs at
    similar load.
  * F (a handler by SLA due) was 3.7x in that run, before its side index INCLUDEd sla_due_at
    (an index scan, not index-only); K (a common keyword fragment) reads ~100 rows per match
    (4.8x): a substring is not ordered by any index.
  * L (a rare keyword) reads the trigram index's posting lists; the bench's fund accounts are
    sequential digits sharing trigrams with most rows, so it reads more than a real one would.
  * the board counts (another endpoint, no target) aggregate every matching running instance:
    tens of ms for a branch, hundreds firm-wide at 1M.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
import psycopg

from bench.common import Series, cpu_model, postgres_url, run_interleaved
from infrastructure.eventstore.store import EventStore
from infrastructure.readmodels import ReadModelDb
from projections.access.departments import DepartmentsProjection
from projections.flows import board
from projections.flows.instances import FlowInstancesProjection
from projections.flows.monitor import MonitorQueries

TARGET = 3.0
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
    indexes = [s for s in stmts if "CREATE INDEX" in s.upper()]  # built after the load
    with psycopg.connect(url, autocommit=True) as conn:
        for stmt in stmts:
            if stmt not in indexes:
                conn.execute(stmt)
        for stmt in DepartmentsProjection.schema:  # the board names departments
            conn.execute(stmt)
        conn.execute("INSERT INTO access_departments SELECT d, 'D' || n, '部门' || n, 'branch', NULL, false, 1, now(),"
                     " now(), 0 FROM unnest(%s::uuid[]) WITH ORDINALITY u(d, n)", (departments,))
        conn.execute("INSERT INTO flows_version_facts VALUES " + ", ".join(
            f"('{bt}', 1, '{orjson.dumps({n: n.upper() for n in NODES}).decode()}', '{{}}')" for bt in TYPES))
    rows, t0, chunk = Rows(7, departments), time.perf_counter(), 20_000
    print(f"  loading {n:,} instances with COPY ...", flush=True)
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(f"COPY flows_instances ({COLS}) FROM STDIN") as cp:
            for start in range(0, n, chunk):
                cp.write(rows.chunk(start, min(chunk, n - start)))
        conn.commit()
        if getattr(board, "HANDLERS_FILL", None):  # the handler side table, as the projection keeps it
            conn.execute(board.HANDLERS_FILL)
            conn.commit()
    print(f"  COPY {time.perf_counter() - t0:.1f} s", flush=True)
    t1 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        for stmt in indexes:
            conn.execute(stmt)
        conn.execute("VACUUM (ANALYZE) flows_instances")
    print(f"  indexes + VACUUM ANALYZE {time.perf_counter() - t1:.1f} s", flush=True)


def scope(departments: list[uuid.UUID] | None) -> dict[str, Any]:
    return {"all_lines": False, "lines": ["brokerage"], "all_departments": departments is None,
            "departments": departments or [], "accounts": []}


class Recorder:
    """A db stand-in that keeps the statement and parameters MonitorQueries sends."""

    def __init__(self) -> None:
        self.sql, self.params = "", {}

    def fetch_all(self, sql: str, params: Any = (), **options: Any) -> list[dict[str, Any]]:
        self.sql, self.params = sql, params
        return []

    def fetch_one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        return None


def report(series: list[Series], base: Series, hot: Series) -> list[tuple[str, float]]:
    print(f"  {'query (first page of 50)':<52} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'rows':>5}"
          f" {'p95/pk':>7} {'p95/hot':>8}")
    out = []
    for s in series:
        ratio = s.pct(.95) / base.pct(.95)
        out.append((s.label, ratio))
        verdict = "" if s in (base, hot) or s.label.startswith("ref") else (
            "  ok" if ratio <= TARGET else "  over 3x")
        print(f"  {s.label:<52} {s.pct(.5):7.2f} {s.pct(.95):7.2f} {s.pct(.99):7.2f} {s.rows / len(s.ns):5.0f}"
              f" {ratio:6.1f}x {s.pct(.95) / hot.pct(.95):7.1f}x{verdict}")
    return out


def plan(url: str, rec: Recorder) -> list[str]:
    """The generic plan of the prepared statement (as the service runs it), with actual rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        rows = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF) " + rec.sql, rec.params,
                            prepare=True).fetchall()
    keep = ("Scan", "Limit", "Rows Removed", "Heap Fetches", "Sort", "Nested Loop", "Join", "Filter:",
            "Index Cond", "Recheck")
    return [r[0] for r in rows if any(k in r[0] for k in keep)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=300, help="timed rounds (every query once a round)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--database-url")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the rows already in --database-url (re-applies the schema: new indexes are built)")
    parser.add_argument("--plans", action="store_true", help="print the plan of every query")
    parser.add_argument("--no-churn", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(11)
    departments = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(20)]
    print(f"bench/monitor.py: {args.instances:,} instances, {args.runs} rounds; CPU {cpu_model()},"
          f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    started = time.perf_counter()
    with postgres_url(args.database_url) as (url, embedded):
        if args.reuse:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SET maintenance_work_mem = '256MB'")
                for stmt in FlowInstancesProjection.schema:
                    conn.execute(stmt)
                for stmt in DepartmentsProjection.schema:
                    conn.execute(stmt)
                conn.execute("INSERT INTO access_departments SELECT d, 'D' || n, '部门' || n, 'branch', NULL, false, 1,"
                             " now(), now(), 0 FROM unnest(%s::uuid[]) WITH ORDINALITY u(d, n) ON CONFLICT DO NOTHING",
                             (departments,))
                conn.execute("VACUUM (ANALYZE) flows_instances")
        else:
            load(url, args.instances, departments)
        with psycopg.connect(url, autocommit=True) as conn:
            info = conn.execute("SELECT version(), current_setting('shared_buffers')").fetchone()
            sizes = conn.execute(
                "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c WHERE c.relname LIKE 'flows_instance%%'"
                " AND c.relkind IN ('r', 'i') ORDER BY 2 DESC").fetchall()
            running = conn.execute("SELECT count(*) FROM flows_instances WHERE status = 'running'").fetchone()[0]
            ids = [r[0] for r in conn.execute("SELECT id FROM flows_instances TABLESAMPLE BERNOULLI (0.5) LIMIT 5000")]
            hot_ids = ids[:500]
            run_ids = [r[0] for r in conn.execute(
                "SELECT id FROM flows_instances WHERE status = 'running' ORDER BY random() LIMIT 20000")]
            accounts = [r[0] for r in conn.execute(
                "SELECT fund_account FROM flows_instances TABLESAMPLE BERNOULLI (0.5) LIMIT 2000")]
            start_min, start_max = conn.execute("SELECT min(started_at), max(started_at) FROM flows_instances"
                                                ).fetchone()
        print(f"  {info[0].split(' on ')[0]}, shared_buffers {info[1]}, {'embedded' if embedded else url}")
        print("  sizes: " + ", ".join(f"{n} {b / 2**20:.0f} MB" for n, b in sizes))
        store = EventStore(url, events_table="bench_events", chain_key=b"k" * 32, pool_size=1)
        db = ReadModelDb(store.datastore)
        q = MonitorQueries(db)
        span = (start_max - start_min).total_seconds()

        def dept(r: random.Random) -> uuid.UUID:
            return r.choice(departments)

        def day(r: random.Random) -> dict[str, Any]:
            at = start_min + timedelta(seconds=r.uniform(0, span - 86400))
            return {"started_from": at, "started_to": at + timedelta(days=1)}

        def scoped(r: random.Random) -> dict[str, Any]:
            return {"all_lines": False, "lines": ["brokerage"], "all_departments": False,
                    "departments": r.sample(departments, 3), "accounts": r.sample(accounts, 20)}

        # page 2 of each department's running list: the cursor of its first page (taken once)
        cursors = {d: q.instances(scope([d]), {"status": "running"})[-1] for d in departments}

        calls: dict[str, Callable[[Any, random.Random], Any]] = {
            "A  branch: running, newest first": lambda q, r: q.instances(scope([dept(r)]), {"status": "running"}),
            "B  department=X + running, newest first": lambda q, r: q.instances(
                scope(None), {"status": "running", "department": dept(r)}),
            "C  business_type + running, newest first": lambda q, r: q.instances(
                scope(None), {"status": "running", "business_type": r.choice(TYPES)}),
            "D  branch: running + type, by SLA due": lambda q, r: q.instances(
                scope([dept(r)]), {"status": "running", "business_type": r.choice(TYPES)}, sort="sla_due"),
            "E  current handler, newest first": lambda q, r: q.instances(
                scope(None), {"status": "running", "handler": f"operator:op{r.randrange(500)}"}),
            "F  current handler, by SLA due": lambda q, r: q.instances(
                scope(None), {"status": "running", "handler": f"operator:op{r.randrange(500)}"}, sort="sla_due"),
            "G  running + overdue, by SLA due": lambda q, r: q.instances(
                scope(None), {"status": "running", "overdue": True}, sort="sla_due"),
            "H  running at a node, last updated": lambda q, r: q.instances(
                scope(None), {"status": "running", "node": r.choice(NODES)}, sort="updated"),
            "I  started in one day (any status)": lambda q, r: q.instances(scope(None), day(r)),
            "J  scoped: 3 depts + 20 accounts, running": lambda q, r: q.instances(scoped(r), {"status": "running"}),
            "K  keyword, common fragment (~1%)": lambda q, r: q.instances(
                scope(None), {"keyword": f"{r.choice(COMPANIES)}{r.choice(COMPANIES)}公司"}),
            "L  keyword, one fund account": lambda q, r: q.instances(scope(None), {"keyword": r.choice(accounts)}),
            "M  branch: running, page 2 (cursor)": lambda q, r: q.instances(
                scope([d := dept(r)]), {"status": "running"}, after=(cursors[d]["started_at"], cursors[d]["id"])),
            "N  department=X + completed, newest first": lambda q, r: q.instances(
                scope(None), {"status": "completed", "department": dept(r)}),
        }
        pk_sql = "SELECT * FROM flows_instances WHERE id = %s"
        base = Series("pk lookup (a random instance)", lambda r: db.fetch_all(pk_sql, (r.choice(ids),)))
        hot = Series("pk lookup, hot (500 instances)", lambda r: db.fetch_all(pk_sql, (r.choice(hot_ids),)))
        pages = [Series(label, lambda r, f=f: f(q, r)) for label, f in calls.items()]
        pages.append(Series("ref: 50 rows by primary key (no search)", lambda r: db.fetch_all(
            "SELECT * FROM flows_instances WHERE id = ANY(%s)", (r.sample(run_ids, 50),))))
        print(f"  {running:,} running; timing {len(pages) + 2} queries ...", flush=True)
        run_interleaved([base, hot, *pages], args.warmup, args.runs, 5)
        print()
        ratios = report([base, hot, *pages], base, hot)
        plans = []
        for label, f in calls.items():
            rec = Recorder()
            f(MonitorQueries(rec), random.Random(3))
            plans.append((label, plan(url, rec)))
        prepared = db.fetch_all("SELECT sum(generic_plans) AS g, sum(custom_plans) AS c FROM pg_prepared_statements"
                                " WHERE statement LIKE '%%current_node_names%%'")[0]
        print(f"\n  monitor statements prepared on the pool's connection: {prepared['g']} generic / {prepared['c']}"
              " custom plans (custom = planned per call)")

        # the board counts: another endpoint, timed for the record (no target)
        counts = [Series("board counts: branch (running)", lambda r: q.board(scope([dept(r)]), {"status": "running"})),
                  Series("board counts: firm-wide (running)", lambda r: q.board(scope(None), {"status": "running"})),
                  Series("board counts: a handler (running)", lambda r: q.board(
                      scope(None), {"status": "running", "handler": f"operator:op{r.randrange(500)}"}))]
        base2 = Series("pk lookup (a random instance)", base.call)
        hot2 = Series("pk lookup, hot (500 instances)", hot.call)
        run_interleaved([base2, hot2, *counts], 3, max(20, args.runs // 10), 6)
        print()
        report([base2, hot2, *counts], base2, hot2)

        churned = 0
        if not args.no_churn:
            # what the projection does to an instance on an event: a new row version (updated_at and
            # version change, the indexes get new entries, the page's visibility bit is cleared)
            with psycopg.connect(url, autocommit=True) as conn:
                churned = conn.execute(
                    "UPDATE flows_instances SET updated_at = updated_at + interval '1 second', version = version + 1"
                    " WHERE id = ANY(%s)", (run_ids[: max(1, running // 50)],)).rowcount
                vm = conn.execute("SELECT round(100.0 * (SELECT relallvisible FROM pg_class WHERE oid ="
                                  " 'flows_instances'::regclass) / greatest(1, pg_relation_size('flows_instances')"
                                  " / 8192))").fetchone()[0]
            base3 = Series("pk lookup (a random instance)", base.call)
            hot3 = Series("pk lookup, hot (500 instances)", hot.call)
            again = [Series(s.label, s.call) for s in pages]
            print(f"\n  after churn: {churned:,} running instances updated (2%), no vacuum since"
                  f" (pg_class.relallvisible, as of the last vacuum: {vm}% of pages)", flush=True)
            run_interleaved([base3, hot3, *again], args.warmup, max(50, args.runs // 2), 7)
            print()
            churn_ratios = report([base3, hot3, *again], base3, hot3)
        store.close()

    if args.plans:
        print("\n  plans (generic, EXPLAIN ANALYZE; before churn):")
        for label, lines in plans:
            print(f"  {label}")
            for line in lines:
                print(f"      {line.strip()[:150]}")
    ratios = [(label, r) for label, r in ratios if not label.startswith("ref")]
    over = [(label, r) for label, r in ratios[2:] if r > TARGET]
    after = "" if args.no_churn else f", {sum(r <= TARGET for _, r in churn_ratios[2:-1])} after churn"
    print(f"\n  target: a filtered first page within {TARGET:g}x of the primary-key lookup's p95"
          f" ({'embedded' if embedded else 'external server'}); {len(ratios) - 2 - len(over)} of {len(ratios) - 2}"
          f" queries within it{after}")
    for label, r in over:
        print(f"    over: {label} ({r:.1f}x)")
    print(f"  total {time.perf_counter() - started:.0f} s; load average now {os.getloadavg()[0]:.1f}"
          " (other work on the machine inflates every figure, the baseline's too)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
