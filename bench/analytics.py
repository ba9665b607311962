"""Cockpit queries over the flow facts: ClickHouse (the analytics store, FINAL reads as the
statistics make them) beside PostgreSQL over equivalent tables, in one run on one machine.

Run from the repository root::

    .venv/bin/python bench/analytics.py                       # 1,000,000 instances, ~6M visits and decisions
    .venv/bin/python bench/analytics.py --instances 200000 --runs 20
    .venv/bin/python bench/analytics.py --database-url postgresql://postgres@127.0.0.1:5432/test

Both stores get the same rows, computed by the same integer formulas of the row number in each
engine's SQL (no data crosses between them): ``--instances`` instances of 12 business types over a
year, 6 node visits and 6 decisions each, 500 handlers, 40 departments. ClickHouse uses the
production DDL of projections/analytics/flow_facts.py (embedded chDB in a temp dir); PostgreSQL
(embedded in a temp dir, or ``--database-url``) gets plain tables with the indexes these queries
can use, VACUUM ANALYZEd. The four cockpit queries (issue 15):

  hot businesses      instances started in the last 90 days per business type
  slow nodes          p50/p90 working time of closed visits per flow and node
  first-pass by month completed instances and their first-pass rate per month
  handler ranking     decisions and average working handling time per handler

ClickHouse's state is a live one: the months before the last week are settled, one part each, as
background merges leave them (the bench runs OPTIMIZE ... FINAL rather than wait for them;
``--unsettled`` skips it), and the last week's rows have been written again in 20 small inserts —
older versions of instances and visits and replayed decisions — that FINAL has to collapse at
query time, as after a live sink's latest batches.

Each runs ``--runs`` times interleaved after a warm-up; printed: p50/p95 per store, the ratio
PostgreSQL/ClickHouse at p95, and the verdict against the targets (ClickHouse p95 <= 200 ms and
>= 10x faster than PostgreSQL). Timing code lives here only; the tests never time anything.
"""
from __future__ import annotations

import argparse
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg
from common import Series, cpu_model, postgres_url, run_interleaved

from infrastructure.engines.clickhouse import ClickHouse
from projections.analytics.flow_facts import FlowFactsSink

TARGET_MS, TARGET_RATIO = 200.0, 10.0
BASE = "2026-01-01 00:00:00"
YEAR = 31_536_000


def _ch_rows(db: str, n: int) -> list[str]:
    """ClickHouse INSERT ... SELECT statements (n instances, 6n visits, 6n decisions)."""
    uuid = "toUUID(concat('00000000-0000-4000-8000-', leftPad(lower(hex({x})), 12, '0')))"
    dept = "toUUID(concat('00000000-0000-4000-9000-', leftPad(lower(hex({x} % 40)), 12, '0')))"
    started = f"toDateTime64('{BASE}', 6, 'UTC') + toIntervalSecond(({{x}} * 7919) % {YEAR})"
    btype = "concat('type_', toString(({x} * 37) % 12))"
    outcome = ("multiIf({x} % 100 < 80, 'completed', {x} % 100 < 88, 'rejected', {x} % 100 < 93, 'withdrawn',"
               " 'running')")
    i = "number"
    m, k = "number", "intDiv(number, 6)"
    wall = f"toFloat64(({i} * 104729) % 2000000)"
    visit_wall = f"toFloat64(({m} * 7919) % 200000)"
    return [
        f"INSERT INTO {db}.flow_instance_facts SELECT {uuid.format(x=i)}, {i} + 1, {btype.format(x=i)},"
        f" {btype.format(x=i)}, 1, if({i} % 5 = 0, 'ib', 'brokerage'), {dept.format(x=i)},"
        f" concat('operator:u', toString({i} % 2000)), {started.format(x=i)},"
        f" if({outcome.format(x=i)} = 'running', NULL, {started.format(x=i)} + toIntervalSecond({wall})),"
        f" {outcome.format(x=i)}, if({outcome.format(x=i)} = 'running', 0, {wall}),"
        f" if({outcome.format(x=i)} = 'running', 0, {wall} * 0.3), if({i} % 7 = 0, 1, 0),"
        f" if({outcome.format(x=i)} = 'rejected', 1, 0), 6, if({i} % 11 = 0, 1, 0),"
        f" if({outcome.format(x=i)} = 'completed' AND {i} % 7 != 0, 1, 0), if({i} % 11 = 0, 0, 1)"
        f" FROM numbers({n})",
        f"INSERT INTO {db}.flow_visit_facts SELECT {uuid.format(x=k)}, concat('k', toString({m} % 6)), {m} + 1,"
        f" {btype.format(x=k)}, {btype.format(x=k)}, if({k} % 5 = 0, 'ib', 'brokerage'), {dept.format(x=k)},"
        f" concat('node_', toString({m} % 6)), 'any', [concat('operator:h', toString(({m} * 31) % 500))],"
        f" [concat('operator:h', toString(({m} * 31) % 500))],"
        f" {started.format(x=k)} + toIntervalSecond(({m} % 6) * 3600),"
        f" {started.format(x=k)} + toIntervalSecond(({m} % 6) * 3600 + ({m} * 7919) % 200000),"
        f" if({m} % 17 = 0, 'returned', 'approved'), if({m} % 17 = 0, 'DATA_INCOMPLETE', ''), {visit_wall},"
        f" {visit_wall} * 0.3, {started.format(x=k)} + toIntervalSecond(({m} % 6) * 3600 + 14400), 0,"
        f" if({m} % 13 = 0, 1, 0) FROM numbers({6 * n})",
        f"INSERT INTO {db}.flow_decision_facts SELECT {m} + 1,"
        f" {started.format(x=k)} + toIntervalSecond(({m} % 6) * 3600 + ({m} * 7919) % 200000),"
        f" {uuid.format(x=k)}, concat('k', toString({m} % 6)), {btype.format(x=k)}, {btype.format(x=k)}, 1,"
        f" if({k} % 5 = 0, 'ib', 'brokerage'), {dept.format(x=k)}, concat('node_', toString({m} % 6)),"
        f" if({m} % 17 = 0, 'returned', 'approved'), concat('operator:h', toString(({m} * 31) % 500)), '',"
        f" if({m} % 17 = 0, 'DATA_INCOMPLETE', ''), {visit_wall}, {visit_wall} * 0.3 FROM numbers({6 * n})",
    ]


TAIL = "2026-12-25 00:00:00"  # the last week of the year: what a live sink has just written
TAIL_INSERTS = 20


def _ch_tail(db: str, chunk: int) -> list[str]:
    """The last week's rows written again as a live sink leaves them: an older version of each
    instance and visit (running, open: lower position, so FINAL must pick the newer) and the
    decisions replayed as identical duplicates, in one of ``TAIL_INSERTS`` small inserts."""
    since = f"toDateTime64('{TAIL}', 6, 'UTC')"
    part = f"cityHash64(instance_id) % {TAIL_INSERTS} = {chunk}"
    return [
        f"INSERT INTO {db}.flow_instance_facts SELECT * REPLACE (0 AS position, NULL AS ended_at,"
        " 'running' AS outcome, 0 AS wall_seconds, 0 AS working_seconds, 0 AS first_pass, 1 AS sla_met)"
        f" FROM {db}.flow_instance_facts WHERE started_at >= {since} AND position > 0 AND {part}",
        f"INSERT INTO {db}.flow_visit_facts SELECT * REPLACE (0 AS position, NULL AS left_at, 'open' AS outcome,"
        " '' AS reason_code, 0 AS wall_seconds, 0 AS working_seconds, [] AS decided_by)"
        f" FROM {db}.flow_visit_facts WHERE entered_at >= {since} AND position > 0 AND {part}",
        f"INSERT INTO {db}.flow_decision_facts SELECT * FROM {db}.flow_decision_facts FINAL"
        f" WHERE occurred_at >= {since} AND {part}",
    ]


PG_DDL = [
    "DROP TABLE IF EXISTS bench_instances, bench_visits, bench_decisions",
    "CREATE UNLOGGED TABLE bench_instances (instance_id uuid PRIMARY KEY, business_type text, business_line text,"
    " department_id uuid, started_at timestamptz, outcome text, working_seconds float8, returns int,"
    " first_pass smallint)",
    "CREATE UNLOGGED TABLE bench_visits (instance_id uuid, task_id text, definition_key text, business_line text,"
    " node text, outcome text, working_seconds float8, PRIMARY KEY (instance_id, task_id))",
    "CREATE UNLOGGED TABLE bench_decisions (position bigint PRIMARY KEY, business_line text, handler text,"
    " handling_working_seconds float8)",
]


def _pg_rows(n: int) -> list[str]:
    uuid = "('00000000-0000-4000-8000-' || lpad(to_hex({x}), 12, '0'))::uuid"
    dept = "('00000000-0000-4000-9000-' || lpad(to_hex({x} % 40), 12, '0'))::uuid"
    started = f"(timestamptz '{BASE}+00' + make_interval(secs => ({{x}} * 7919) % {YEAR}))"
    btype = "('type_' || (({x} * 37) % 12))"
    outcome = ("(CASE WHEN {x} % 100 < 80 THEN 'completed' WHEN {x} % 100 < 88 THEN 'rejected'"
               " WHEN {x} % 100 < 93 THEN 'withdrawn' ELSE 'running' END)")
    i, k, m = "i", "(m / 6)", "m"
    return [
        f"INSERT INTO bench_instances SELECT {uuid.format(x=i)}, {btype.format(x=i)},"
        f" CASE WHEN {i} % 5 = 0 THEN 'ib' ELSE 'brokerage' END, {dept.format(x=i)}, {started.format(x=i)},"
        f" {outcome.format(x=i)}, CASE WHEN {outcome.format(x=i)} = 'running' THEN 0"
        f" ELSE (({i} * 104729) % 2000000) * 0.3 END, CASE WHEN {i} % 7 = 0 THEN 1 ELSE 0 END,"
        f" CASE WHEN {outcome.format(x=i)} = 'completed' AND {i} % 7 != 0 THEN 1 ELSE 0 END"
        f" FROM generate_series(0::bigint, {n - 1}) i",
        f"INSERT INTO bench_visits SELECT {uuid.format(x=k)}, 'k' || ({m} % 6), {btype.format(x=k)},"
        f" CASE WHEN {k} % 5 = 0 THEN 'ib' ELSE 'brokerage' END, 'node_' || ({m} % 6),"
        f" CASE WHEN {m} % 17 = 0 THEN 'returned' ELSE 'approved' END, (({m} * 7919) % 200000) * 0.3"
        f" FROM generate_series(0::bigint, {6 * n - 1}) m",
        f"INSERT INTO bench_decisions SELECT {m} + 1, CASE WHEN {k} % 5 = 0 THEN 'ib' ELSE 'brokerage' END,"
        f" 'operator:h' || (({m} * 31) % 500), (({m} * 7919) % 200000) * 0.3"
        f" FROM generate_series(0::bigint, {6 * n - 1}) m",
        "CREATE INDEX ON bench_instances (started_at)",
        "CREATE INDEX ON bench_instances (business_line, outcome, started_at)",
        "CREATE INDEX ON bench_visits (definition_key, node)",
        "CREATE INDEX ON bench_decisions (handler)",
    ]


SINCE = "2026-10-01 00:00:00"


def _queries(db: str) -> dict[str, tuple[str, str]]:
    return {
        "hot businesses (last 90 days)": (
            f"SELECT business_type, count() AS c FROM {db}.flow_instance_facts FINAL WHERE business_line = 'brokerage'"
            f" AND started_at >= toDateTime64('{SINCE}', 6, 'UTC') GROUP BY business_type ORDER BY c DESC LIMIT 10",
            "SELECT business_type, count(*) AS c FROM bench_instances WHERE business_line = 'brokerage'"
            f" AND started_at >= timestamptz '{SINCE}+00' GROUP BY business_type ORDER BY c DESC LIMIT 10"),
        "slow nodes (p50/p90 working time)": (
            "SELECT definition_key, node, count() AS c, quantilesExact(0.5, 0.9)(working_seconds)[1] AS p50,"
            f" quantilesExact(0.5, 0.9)(working_seconds)[2] AS p90 FROM {db}.flow_visit_facts FINAL"
            " WHERE business_line = 'brokerage' AND outcome NOT IN ('open', 'cancelled')"
            " GROUP BY definition_key, node ORDER BY p90 DESC LIMIT 20",
            "SELECT definition_key, node, count(*) AS c, percentile_disc(0.5) WITHIN GROUP (ORDER BY working_seconds),"
            " percentile_disc(0.9) WITHIN GROUP (ORDER BY working_seconds) AS p90 FROM bench_visits"
            " WHERE business_line = 'brokerage' AND outcome NOT IN ('open', 'cancelled')"
            " GROUP BY definition_key, node ORDER BY p90 DESC LIMIT 20"),
        "first-pass rate by month": (
            "SELECT toStartOfMonth(toTimeZone(started_at, 'Asia/Shanghai')) AS month, count() AS completed,"
            f" countIf(first_pass = 1) / count() AS rate FROM {db}.flow_instance_facts FINAL"
            " WHERE business_line = 'brokerage' AND outcome = 'completed' GROUP BY month ORDER BY month",
            "SELECT date_trunc('month', started_at AT TIME ZONE 'Asia/Shanghai') AS month, count(*) AS completed,"
            " avg(first_pass) AS rate FROM bench_instances WHERE business_line = 'brokerage'"
            " AND outcome = 'completed' GROUP BY month ORDER BY month"),
        "handler ranking": (
            "SELECT handler, count() AS c, avg(handling_working_seconds) AS avg_working"
            f" FROM {db}.flow_decision_facts FINAL WHERE business_line = 'brokerage'"
            " GROUP BY handler ORDER BY c DESC LIMIT 20",
            "SELECT handler, count(*) AS c, avg(handling_working_seconds) FROM bench_decisions"
            " WHERE business_line = 'brokerage' GROUP BY handler ORDER BY c DESC LIMIT 20"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: embedded PostgreSQL in a temp dir)")
    parser.add_argument("--instances", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each query (default 30)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--unsettled", action="store_true",
                        help="leave every month as loaded (several parts each) instead of settled")
    args = parser.parse_args(argv)
    n = args.instances
    with postgres_url(args.database_url) as (url, embedded), tempfile.TemporaryDirectory() as tmp:
        ch = ClickHouse(f"chdb://{tmp}/chdb", "bench")
        db = ch.db
        print("Ledgerflow analytics benchmark: cockpit queries, ClickHouse (FINAL) beside PostgreSQL")
        print(f"  machine  : {platform.node()} {platform.machine()}, {cpu_model()}")
        print(f"  data     : {n:,} instances, {6 * n:,} visits, {6 * n:,} decisions (the same rows in both)")
        t0 = time.perf_counter()
        for ddl in FlowFactsSink.tables.values():
            ch.command(ddl.format(db=db))
        for statement in _ch_rows(db, n):
            ch.command(statement)
        if not args.unsettled:
            for table in FlowFactsSink.tables:
                ch.command(f"OPTIMIZE TABLE {db}.{table} FINAL")
        for chunk in range(TAIL_INSERTS):
            for statement in _ch_tail(db, chunk):
                ch.command(statement)
        parts = ch.query("SELECT table, count() FROM system.parts WHERE database = {db:String} AND active"
                         " GROUP BY table ORDER BY table", {"db": ch.database})
        print(f"  loaded ClickHouse in {time.perf_counter() - t0:.1f}s; active parts: "
              + ", ".join(f"{t} {c}" for t, c in parts))
        t0 = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            for statement in [*PG_DDL, *_pg_rows(n)]:
                conn.execute(statement)
            conn.execute("VACUUM ANALYZE bench_instances, bench_visits, bench_decisions")
        print(f"  loaded PostgreSQL {version} ({'embedded' if embedded else 'external'}) in "
              f"{time.perf_counter() - t0:.1f}s")
        with psycopg.connect(url, autocommit=True) as conn:
            # The same answers from both (counts; the quantiles' definitions differ at the edges).
            for label, (ch_sql, pg_sql) in _queries(db).items():
                column = 2 if "slow" in label else 1  # the count's column; all groups (ties cut by LIMIT differ)
                ch_counts = sorted(int(r[column]) for r in ch.query(re.sub(r" LIMIT \d+$", "", ch_sql)))
                pg_counts = sorted(int(r[column]) for r in conn.execute(re.sub(r" LIMIT \d+$", "", pg_sql)).fetchall())
                assert ch_counts == pg_counts, (label, ch_counts[:5], pg_counts[:5])
            print("  checked  : both stores give the same counts for every query")
            series: list[tuple[str, Series, Series]] = []
            for label, (ch_sql, pg_sql) in _queries(db).items():
                series.append((label, Series(f"ClickHouse: {label}", lambda r, q=ch_sql: ch.query(q)),
                               Series(f"PostgreSQL: {label}", lambda r, q=pg_sql: conn.execute(q).fetchall())))
            run_interleaved([s for _, a, b in series for s in (a, b)], args.warmup, args.runs, 15)
        print(f"\n  {'query':<36} {'CH p50':>8} {'CH p95':>8} {'PG p50':>9} {'PG p95':>9} {'PG/CH':>7}  verdict")
        for label, c, p in series:
            ratio = p.pct(.95) / c.pct(.95)
            ok = c.pct(.95) <= TARGET_MS and ratio >= TARGET_RATIO
            print(f"  {label:<36} {c.pct(.5):7.1f}ms {c.pct(.95):7.1f}ms {p.pct(.5):8.1f}ms {p.pct(.95):8.1f}ms"
                  f" {ratio:6.1f}x  {'meets' if ok else 'MISSES'} (p95 <= {TARGET_MS:.0f} ms, >= {TARGET_RATIO:.0f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
