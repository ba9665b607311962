"""Event store write throughput against a raw psycopg baseline.

Run from the repository root::

    .venv/bin/python bench/event_store.py                       # embedded PostgreSQL in a temp dir
    .venv/bin/python bench/event_store.py --database-url postgresql://postgres@127.0.0.1:5432/test

Scenarios (each on its own freshly created tables, so results are independent):

  (a)  1 writer, 1 event (a new aggregate) per ``insert_events`` call, vs raw psycopg:
       one autocommit ``INSERT ... RETURNING notification_id`` per row.
  (b)  N writer threads (default 16), 1 event per call, group commit ON, vs raw psycopg:
       N threads, each with its own connection, doing single-row autocommit INSERTs.
  (b') the same N writers with ``group_commit=False`` (the library's behaviour: one
       EXCLUSIVE table lock per transaction), against the same baseline.
  (c)  1 writer, 100 events (100 aggregates) per call, vs raw psycopg ``COPY`` of 100
       rows per transaction.
  (k)  the writers of (b), each call carrying its own Idempotency-Key (ADR 0025: the key's
       row is written in the same transaction), vs the same writers without keys.

The baseline tables have the same shape as the event table (originator_id uuid,
originator_version bigint, topic text, state bytea, notification_id bigserial,
primary key and unique notification_id index) but no lock, no NOTIFY and no hash
chain. Targets (from the issue): (a) >= 0.5x raw INSERT; (b) >= 5,000 events/s.

Timing code lives here only; the tests never time anything.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson
import psycopg
from common import cpu_model, postgres_url
from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from infrastructure.eventstore.idempotency import KeyClaim, current_claim
from infrastructure.eventstore.store import EventStore

TOPIC = "bench:ApprovalRequest.Submitted"
CHAIN_KEY = b"bench-chain-key-0123456789abcdef"
TARGET_RATIO_1W = 0.5
TARGET_EPS_NW = 5_000.0


# -- realistic event state ------------------------------------------------------------------

def make_states(count: int = 256, size: int = 300, seed: int = 7) -> list[bytes]:
    """~``size``-byte JSON documents shaped like an approval event."""
    rng = random.Random(seed)
    words = ("margin", "call", "client", "review", "desk", "futures", "limit", "approve",
             "hedge", "account", "settlement", "risk", "note", "branch", "contract")
    states = []
    for _ in range(count):
        doc = {
            "timestamp": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                         f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
                         f".{rng.randint(0, 999999):06d}+00:00",
            "request_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "kind": rng.choice(("credit_limit", "fee_waiver", "account_open", "withdrawal")),
            "amount": f"{rng.randint(1, 10_000_000) / 100:.2f}",
            "currency": rng.choice(("CNY", "USD", "HKD")),
            "applicant": f"emp-{rng.randint(1000, 9999)}",
            "branch": f"BR{rng.randint(1, 99):03d}",
            "comment": "",
        }
        base = len(orjson.dumps(doc))
        comment = []
        while base + len(" ".join(comment)) < size:
            comment.append(rng.choice(words))
        doc["comment"] = " ".join(comment)[: max(0, size - base)]
        states.append(orjson.dumps(doc))
    return states


STATES = make_states()


class EventSource:
    """Hands out new-aggregate events (version 1, fresh uuid4) with pre-built ~300-byte states."""

    def __init__(self) -> None:
        self._i = 0

    def state(self) -> bytes:
        self._i = (self._i + 1) % len(STATES)
        return STATES[self._i]

    def stored(self, n: int) -> list[StoredEvent]:
        return [StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic=TOPIC,
                            state=self.state()) for _ in range(n)]

    def rows(self, n: int) -> list[tuple]:
        return [(uuid.uuid4(), 1, TOPIC, self.state()) for _ in range(n)]


# -- measurement ---------------------------------------------------------------------------

@dataclass
class Result:
    events: int
    calls: int
    elapsed: float
    latencies: list[float] = field(default_factory=list)
    warm_events: int = 0  # written during the untimed warm-up (still in the table)
    extra: str = ""

    @property
    def eps(self) -> float:
        return self.events / self.elapsed if self.elapsed > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000


# A worker factory is called once inside each writer thread (so connections are per
# thread) and returns (call, cleanup); ``call()`` performs one write of ``per_call`` events.
WorkerFactory = Callable[[int], "tuple[Callable[[], None], Callable[[], None]]"]


def measure(factory: WorkerFactory, *, writers: int, per_call: int, seconds: float | None,
            events: int | None, warmup: float, on_start: Callable[[], None] | None = None) -> Result:
    ready = threading.Barrier(writers + 1)
    go = threading.Barrier(writers + 1)
    counts = [0] * writers
    lats: list[list[float]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []
    warm_events = [0] * writers
    deadline_box: list[float] = [0.0]
    calls_each = None
    if events is not None:
        total_calls = max(writers, events // per_call)
        calls_each = [total_calls // writers + (1 if i < total_calls % writers else 0) for i in range(writers)]

    def run(i: int) -> None:
        cleanup = None
        try:
            call, cleanup = factory(i)
            end = time.perf_counter() + warmup
            while True:  # warm-up: at least one call, then until the warm-up time is spent
                call()
                warm_events[i] += per_call
                if time.perf_counter() >= end:
                    break
        except BaseException as exc:
            errors.append(exc)
            ready.abort()
            go.abort()
            if cleanup is not None:
                cleanup()
            return
        try:
            ready.wait()
            go.wait()
            lat, n = lats[i], 0
            limit = calls_each[i] if calls_each is not None else None
            deadline = deadline_box[0]
            while (n < limit) if limit is not None else (time.perf_counter() < deadline):
                t = time.perf_counter()
                call()
                lat.append(time.perf_counter() - t)
                n += 1
            counts[i] = n
        except BaseException as exc:
            errors.append(exc)
        finally:
            if cleanup is not None:
                cleanup()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(writers)]
    for t in threads:
        t.start()
    try:
        ready.wait()
        if on_start:
            on_start()
        deadline_box[0] = time.perf_counter() + (seconds or 0.0)
        t0 = time.perf_counter()
        go.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0 if not errors else 0.0
    if errors:
        raise errors[0]
    calls = sum(counts)
    return Result(events=calls * per_call, calls=calls, elapsed=elapsed,
                  latencies=[x for lat in lats for x in lat], warm_events=sum(warm_events))


# -- database helpers ----------------------------------------------------------------------

def admin(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def drop_tables(url: str, *names: str) -> None:
    with admin(url) as conn:
        for name in names:
            conn.execute(SQL("DROP TABLE IF EXISTS {t}").format(t=Identifier(name)))


def checkpoint(url: str) -> None:
    """Start each run from a clean WAL position (needs superuser; skipped otherwise)."""
    try:
        with admin(url) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass


def count_rows(url: str, table: str) -> int:
    with admin(url) as conn:
        return conn.execute(SQL("SELECT count(*) FROM {t}").format(t=Identifier(table))).fetchone()[0]


def create_raw_table(url: str, name: str) -> None:
    drop_tables(url, name)
    with admin(url) as conn:
        conn.execute(SQL(
            "CREATE TABLE {t} (originator_id uuid NOT NULL, originator_version bigint NOT NULL,"
            " topic text, state bytea, notification_id bigserial,"
            " PRIMARY KEY (originator_id, originator_version))").format(t=Identifier(name)))
        conn.execute(SQL("CREATE UNIQUE INDEX {i} ON {t} (notification_id ASC)").format(
            i=Identifier(f"{name}_notification_id_idx"), t=Identifier(name)))


def server_info(url: str) -> dict[str, str]:
    info = {}
    with admin(url) as conn:
        info["version"] = conn.execute("SELECT version()").fetchone()[0]
        for setting in ("fsync", "synchronous_commit", "wal_sync_method", "shared_buffers",
                        "max_connections"):
            try:
                info[setting] = conn.execute(SQL("SHOW {s}").format(s=Identifier(setting))).fetchone()[0]
            except psycopg.Error:
                info[setting] = "?"
        info["transport"] = "unix socket" if (conn.pgconn.host or b"").startswith(b"/") else "tcp"
    return info


# -- scenarios ------------------------------------------------------------------------------

class Bench:
    def __init__(self, url: str, args: argparse.Namespace):
        self.url = url
        self.args = args
        self.tables: list[str] = []

    def _measure(self, factory: WorkerFactory, writers: int, per_call: int,
                 on_start: Callable[[], None] | None = None) -> Result:
        checkpoint(self.url)
        return measure(factory, writers=writers, per_call=per_call, seconds=self.args.seconds,
                       events=self.args.events, warmup=self.args.warmup, on_start=on_start)

    def ours(self, table: str, *, writers: int, per_call: int, group_commit: bool, keyed: bool = False) -> Result:
        chain, keys = f"{table}_chain", f"{table}_idempotency"
        drop_tables(self.url, table, chain, keys)
        self.tables += [table, chain, keys]
        store = EventStore(self.url, events_table=table, chain_key=CHAIN_KEY,
                           pool_size=max(1, writers), group_commit=group_commit)
        recorder = store.recorder
        snap: dict[str, int] = {}

        def factory(i: int):
            source = EventSource()
            if not keyed:
                return (lambda: recorder.insert_events(source.stored(per_call))), (lambda: None)

            def call() -> None:
                token = current_claim.set(KeyClaim(key=uuid.uuid4().hex, request="POST /bench", fingerprint=b"f" * 32,
                                                   ttl_seconds=86_400, owner=f"bench:{i}"))
                try:
                    recorder.insert_events(source.stored(per_call))
                finally:
                    current_claim.reset(token)

            return call, (lambda: None)

        def on_start() -> None:
            snap["txns"], snap["events"] = recorder.stats.transactions, recorder.stats.events

        try:
            result = self._measure(factory, writers, per_call, on_start)
        finally:
            store.close()
        txns = recorder.stats.transactions - snap["txns"]
        committed = recorder.stats.events - snap["events"]
        if txns:
            result.extra = f"{txns} txns, {committed / txns:.1f} ev/txn"
        expected = result.events + result.warm_events
        got_events, got_chain = count_rows(self.url, table), count_rows(self.url, chain)
        if not (got_events == got_chain == expected):
            result.extra += f" ROW MISMATCH events={got_events} chain={got_chain} expected={expected}"
        return result

    def raw_insert(self, table: str, *, writers: int) -> Result:
        create_raw_table(self.url, table)
        self.tables.append(table)
        sql = SQL("INSERT INTO {t} (originator_id, originator_version, topic, state)"
                  " VALUES (%s, %s, %s, %s) RETURNING notification_id").format(t=Identifier(table))

        def factory(i: int):
            conn = psycopg.connect(self.url, autocommit=True)
            cur = conn.cursor()
            source = EventSource()

            def call() -> None:
                cur.execute(sql, source.rows(1)[0], prepare=True)
                cur.fetchone()

            return call, conn.close

        result = self._measure(factory, writers, 1)
        self._check_raw(result, table)
        return result

    def raw_copy(self, table: str, *, per_call: int) -> Result:
        create_raw_table(self.url, table)
        self.tables.append(table)
        sql = SQL("COPY {t} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
                  ).format(t=Identifier(table))

        def factory(i: int):
            conn = psycopg.connect(self.url, autocommit=True)
            cur = conn.cursor()
            source = EventSource()

            def call() -> None:
                rows = source.rows(per_call)
                with conn.transaction(), cur.copy(sql) as copy:
                    copy.set_types(["uuid", "int8", "text", "bytea"])
                    for row in rows:
                        copy.write_row(row)

            return call, conn.close

        result = self._measure(factory, 1, per_call)
        self._check_raw(result, table)
        return result

    def _check_raw(self, result: Result, table: str) -> None:
        expected = result.events + result.warm_events
        got = count_rows(self.url, table)
        if got != expected:
            result.extra += f" ROW MISMATCH rows={got} expected={expected}"

    def cleanup(self) -> None:
        if not self.args.keep_tables and self.tables:
            drop_tables(self.url, *self.tables)


# -- report ---------------------------------------------------------------------------------

@dataclass
class Row:
    label: str
    ours: Result
    base: Result
    base_label: str


def fmt_eps(x: float) -> str:
    return f"{x:,.0f}"


def print_table(rows: list[Row]) -> None:
    header = (f"{'scenario':<44} {'ours ev/s':>10} {'p50/p99 ms':>13}   {'baseline':<22} "
              f"{'base ev/s':>10} {'p50/p99 ms':>13} {'ratio':>6}  notes")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.label:<44} {fmt_eps(r.ours.eps):>10} {r.ours.pct(0.5):>6.2f}/{r.ours.pct(0.99):<6.2f}   "
              f"{r.base_label:<22} {fmt_eps(r.base.eps):>10} {r.base.pct(0.5):>6.2f}/{r.base.pct(0.99):<6.2f} "
              f"{r.ours.eps / r.base.eps if r.base.eps else float('nan'):>5.2f}x  {r.ours.extra}{r.base.extra}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: embedded PostgreSQL in a temp dir)")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--seconds", type=float, default=None,
                        help="timed duration of each measurement (default 6)")
    amount.add_argument("--events", type=int, default=None,
                        help="fixed number of events per measurement instead of a duration")
    parser.add_argument("--writers", type=int, default=16, help="concurrent writers in scenario (b) (default 16)")
    parser.add_argument("--batch", type=int, default=100, help="events per transaction in scenario (c) (default 100)")
    parser.add_argument("--warmup", type=float, default=0.5, help="untimed warm-up seconds per measurement")
    parser.add_argument("--only", default="a,b,b',c,k",
                        help="comma-separated subset of scenarios: a, b, b' (group_commit=False), c, "
                             "k (idempotency keys)")
    parser.add_argument("--keep-tables", action="store_true", help="do not drop the bench tables at the end")
    args = parser.parse_args(argv)
    if args.seconds is None and args.events is None:
        args.seconds = 6.0
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}

    engines = contextlib.ExitStack()
    url, embedded = engines.enter_context(postgres_url(args.database_url))

    bench = Bench(url, args)
    try:
        info = server_info(url)
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print("Ledgerflow event store benchmark")
        print(f"  machine   : {platform.node()} {platform.system()} {platform.release()} {platform.machine()}")
        print(f"  cpu       : {os.cpu_count()} logical cpus ({affinity} usable), {cpu_model()}")
        print(f"  python    : {platform.python_version()}  psycopg {psycopg.__version__} "
              f"({psycopg.pq.__impl__})  eventsourcing {_version('eventsourcing')}")
        print(f"  postgres  : {info['version']}")
        print(f"              {'embedded (temp dir)' if embedded else 'external'}, {info['transport']}; "
              f"fsync={info['fsync']} synchronous_commit={info['synchronous_commit']} "
              f"wal_sync_method={info['wal_sync_method']} shared_buffers={info['shared_buffers']}")
        amount_txt = f"{args.seconds:g} s" if args.events is None else f"{args.events} events"
        print(f"  run       : {amount_txt} per measurement after {args.warmup:g} s warm-up; "
              f"state {min(map(len, STATES))}-{max(map(len, STATES))} bytes JSON; fresh tables per scenario")
        print()

        rows: list[Row] = []
        w = args.writers
        if "a" in wanted:
            print("  running (a) ...", flush=True)
            ours = bench.ours("bench_es_1w", writers=1, per_call=1, group_commit=True)
            base = bench.raw_insert("bench_raw_1w", writers=1)
            rows.append(Row("(a) 1 writer, 1 event/txn", ours, base, "INSERT autocommit"))
        if "b" in wanted or "b'" in wanted:
            print(f"  running (b) {w} writers ...", flush=True)
            base = bench.raw_insert(f"bench_raw_{w}w", writers=w)
            if "b" in wanted:
                ours = bench.ours(f"bench_es_{w}w_gc", writers=w, per_call=1, group_commit=True)
                rows.append(Row(f"(b) {w} writers, 1 event/call, group commit", ours, base,
                                f"INSERT x{w} conns"))
            if "b'" in wanted:
                ours = bench.ours(f"bench_es_{w}w_nogc", writers=w, per_call=1, group_commit=False)
                rows.append(Row(f"(b') {w} writers, group_commit=False", ours, base,
                                f"INSERT x{w} conns"))
        if "c" in wanted:
            print(f"  running (c) {args.batch} events/txn ...", flush=True)
            ours = bench.ours(f"bench_es_batch{args.batch}", writers=1, per_call=args.batch, group_commit=True)
            base = bench.raw_copy(f"bench_raw_copy{args.batch}", per_call=args.batch)
            rows.append(Row(f"(c) 1 writer, {args.batch} events/txn", ours, base, f"COPY {args.batch} rows/txn"))
        if "k" in wanted:
            print(f"  running (k) {w} writers with idempotency keys ...", flush=True)
            base = bench.ours(f"bench_es_{w}w_nokey", writers=w, per_call=1, group_commit=True)
            ours = bench.ours(f"bench_es_{w}w_keyed", writers=w, per_call=1, group_commit=True, keyed=True)
            rows.append(Row(f"(k) {w} writers, 1 event/call, each keyed", ours, base, "(b) without keys"))
        print()
        print_table(rows)

        by_label = {r.label.split(" ")[0]: r for r in rows}
        if "(a)" in by_label:
            r = by_label["(a)"]
            ratio = r.ours.eps / r.base.eps if r.base.eps else 0.0
            print(f"target (a) ours >= {TARGET_RATIO_1W}x raw INSERT, 1 writer : "
                  f"{ratio:.2f}x -> {'PASS' if ratio >= TARGET_RATIO_1W else 'FAIL'}")
        if "(b)" in by_label:
            r = by_label["(b)"]
            print(f"target (b) ours >= {TARGET_EPS_NW:,.0f} events/s, {w} writers: "
                  f"{r.ours.eps:,.0f} -> {'PASS' if r.ours.eps >= TARGET_EPS_NW else 'FAIL'}")
        return 0
    finally:
        bench.cleanup()
        engines.close()


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
