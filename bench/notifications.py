"""Notification delivery throughput: outbox rows delivered per second against raw INSERT of the
same rows, in one run on one database.

Run from the repository root::

    .venv/bin/python bench/notifications.py                   # embedded PostgreSQL in a temp dir
    .venv/bin/python bench/notifications.py --database-url postgresql://postgres@127.0.0.1:5432/test

Each measurement starts from an empty ``notifications_outbox`` (the production statement and
indexes, infrastructure/notifications/outbox.py) and ``--rows`` rows (default 5,000) to 200
operators of the access read model (``access_operators``, the projection's statement):

  (r)  baseline: the rows INSERTed one autocommit statement each (the projection's
       ``INSERT ... ON CONFLICT (key) DO NOTHING``), by one connection;
  (f)  the delivery worker (``Notifier``, the composition root's classes: claim with SKIP LOCKED,
       the recipient's phone from access_operators, send, record) into the embedded file sink,
       1 send in flight, then ``--concurrency`` (default 4);
  (s)  the same into a local SMS gateway over HTTP (the tests' fake: a ThreadingHTTPServer that checks
       the HMAC and deduplicates by request_id, as a firm's shim would; in a process of its own, so it
       does not share the worker's interpreter lock), 1 and ``--concurrency`` in flight;
  (s2) two workers sharing the table, ``--concurrency`` each, to the gateway: the SKIP LOCKED claim under
       contention (both workers live in this one process and share its interpreter lock, so this shows
       that nothing is sent twice and little is lost to contention, not how processes scale).

Printed: rows/s of each and its ratio to (r).

``--mode inbox`` measures the other half instead (bench/notifications_inbox.py): in-app
notifications the ``notifications.inbox`` projection derives per second from real flow events
(tenant signings started through the flows application, the projection runner's ``catch_up``),
beside raw INSERT of the same rows in the same run::

    .venv/bin/python bench/notifications.py --mode inbox [--instances 2000] [--default-channels sms]

Timing code lives here only; the tests never time anything.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from multiprocessing import Event, Process, Queue
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson
import psycopg
from common import cpu_model, postgres_url

from application.notifications.delivery_worker import Notifier
from domain.notifications.delivery import Channel
from infrastructure.eventstore.store import EventStore
from infrastructure.notifications.outbox import OutboxStore
from infrastructure.notifications.recipients import AccessRecipients
from infrastructure.notifications.sink import FileSink
from infrastructure.notifications.sms import HttpSmsGateway
from infrastructure.readmodels import ReadModelDb
from projections.access.principals import PrincipalsProjection
from projections.access.queries import AccessQueries
from tests.notification_fakes import FakeSmsGateway

SECRET = "bench-sms-secret-0123456789"
OPERATORS = 200
INSERT = ("INSERT INTO notifications_outbox (key, notification_id, recipient, channel, kind, language, subject, body,"
          " link, payload, next_attempt_at, created_at) VALUES (%s,%s,%s,'sms','task_arrived','zh',%s,%s,%s,%s::jsonb,"
          "%s,%s) ON CONFLICT (key) DO NOTHING")


def _rows(n: int) -> list[tuple[object, ...]]:
    now = datetime.now(timezone.utc) - timedelta(seconds=1)
    out = []
    for i in range(n):
        event, recipient = uuid.uuid4(), f"operator:bench{i % OPERATORS:04d}"
        link = f"https://ledgerflow.firm.cn/flows/instances/{event}"
        out.append((f"{event}:1:{recipient}:sms", uuid.uuid5(event, recipient), recipient, "待办：甲公司签约",
                    f"您有一条新的待办：甲公司签约（第{i}号）", link, orjson.dumps({"url": link}).decode(), now, now))
    return out


def _reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE notifications_outbox")


def raw_insert(url: str, rows: list[tuple[object, ...]]) -> float:
    _reset(url)
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        for r in rows:
            conn.execute(INSERT, r)
        return len(rows) / (time.perf_counter() - started)


def deliver(url: str, store: EventStore, n: int, channel: Channel, workers: int, concurrency: int) -> float:
    """Rows/s from the first claim to the last row recorded sent (fresh rows inserted untimed first)."""
    _reset(url)
    rows = _rows(n)
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(INSERT, rows)
    outbox = OutboxStore(store.datastore)
    recipients = AccessRecipients(AccessQueries(ReadModelDb(store.datastore)))
    notifiers = [Notifier(outbox, {"sms": channel}, recipients, batch_size=50, concurrency=concurrency)
                 for _ in range(workers)]

    def drain(notifier: Notifier) -> None:
        while notifier.tick():
            pass

    threads = [threading.Thread(target=drain, args=(n,)) for n in notifiers]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    for n in notifiers:
        n.stop()
    sent = sum(n.totals["sent"] for n in notifiers)
    if sent != len(rows):
        raise SystemExit(f"only {sent} of {len(rows)} rows were delivered: {[dict(n.totals) for n in notifiers]}")
    return len(rows) / elapsed


def _serve_gateway(started: Queue, stop: Event, counts: Queue) -> None:  # type: ignore[type-arg]
    gateway = FakeSmsGateway(SECRET)
    started.put(gateway.url)
    stop.wait()
    counts.put((len(gateway.requests), len(gateway.delivered)))
    gateway.close()


def prepare(url: str) -> EventStore:
    store = EventStore(url, events_table="bench_notify_events", chain_key=b"bench-chain-key-0123456789abcdef",
                       pool_size=16)
    with store.datastore.get_connection() as conn:
        for statement in PrincipalsProjection.schema:
            conn.execute(statement)
        now = datetime.now(timezone.utc)
        from domain.shared.ids import natural_id

        for i in range(OPERATORS):
            login = f"bench{i:04d}"
            conn.execute("INSERT INTO access_operators (id, login_name, display_name, department_id, phone, email,"
                         " status, version, created_at, updated_at, position) VALUES (%s,%s,%s,%s,%s,%s,'active',1,"
                         "%s,%s,0) ON CONFLICT DO NOTHING",
                         (natural_id("operator", login), login, login, uuid.uuid4(), f"138{i:08d}",
                          f"{login}@firm.cn", now, now))
    OutboxStore(store.datastore).create()
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: embedded PostgreSQL in a temp dir)")
    parser.add_argument("--rows", type=int, default=5000, help="outbox rows per measurement (default 5000)")
    parser.add_argument("--concurrency", type=int, default=4, help="sends in flight per worker (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of every measurement (default 3)")
    parser.add_argument("--mode", choices=("delivery", "inbox"), default="delivery",
                        help="delivery: the outbox worker (default); inbox: the projection's in-app derivation")
    parser.add_argument("--instances", type=int, default=2000,
                        help="inbox: flow instances started per round, 2 notifications each (default 2000)")
    parser.add_argument("--default-channels", default="",
                        help="inbox: external channels every kind also goes to (e.g. sms: one outbox row per "
                             "in-app row); default none")
    args = parser.parse_args(argv)
    if args.mode == "inbox":
        from bench.notifications_inbox import run

        return run(args.instances, args.repeat, args.default_channels)

    with postgres_url(args.database_url) as (url, embedded), tempfile.TemporaryDirectory() as tmp:
        store = prepare(url)
        started, counts, stop = Queue(), Queue(), Event()  # type: ignore[var-annotated]
        gateway = Process(target=_serve_gateway, args=(started, stop, counts), daemon=True)
        gateway.start()
        try:
            with psycopg.connect(url) as conn:
                version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            print("Ledgerflow notification delivery benchmark")
            print(f"  machine   : {platform.node()} {platform.machine()}, {cpu_model()}")
            print(f"  postgres  : {version}, {'embedded (temp dir)' if embedded else 'external'}")
            print(f"  run       : {args.rows:,} outbox rows per measurement to {OPERATORS} operators; "
                  f"batch 50; fresh table and keys each time; {args.repeat} interleaved rounds")
            print()
            sms = HttpSmsGateway(f"{started.get(timeout=30)}/sms", SECRET)
            c = args.concurrency
            runs: list[tuple[str, Callable[[], float]]] = [
                ("(r)  raw INSERT, autocommit, 1 connection", lambda: raw_insert(url, _rows(args.rows))),
                ("(f)  file sink, 1 in flight",
                 lambda: deliver(url, store, args.rows, FileSink(Path(tmp) / f"{uuid.uuid4()}.jsonl"), 1, 1)),
                (f"(f)  file sink, {c} in flight",
                 lambda: deliver(url, store, args.rows, FileSink(Path(tmp) / f"{uuid.uuid4()}.jsonl"), 1, c)),
                ("(s)  SMS gateway over HTTP, 1 in flight", lambda: deliver(url, store, args.rows, sms, 1, 1)),
                (f"(s)  SMS gateway over HTTP, {c} in flight", lambda: deliver(url, store, args.rows, sms, 1, c)),
                (f"(s2) SMS gateway, 2 workers x {c} in flight", lambda: deliver(url, store, args.rows, sms, 2, c)),
            ]
            rates: dict[str, list[float]] = {label: [] for label, _ in runs}
            for round_ in range(args.repeat):  # interleaved, so every measurement sees the same machine
                print(f"  round {round_ + 1} of {args.repeat} ...", flush=True)
                for label, run in runs:
                    rates[label].append(run())
            base = statistics.median(rates[runs[0][0]])
            print(f"\n  {'measurement (median of ' + str(args.repeat) + ')':<46} {'rows/s':>10} {'vs (r)':>8}"
                  f"   {'all rounds, rows/s':<24}")
            for label, values in rates.items():
                rate = statistics.median(values)
                print(f"  {label:<46} {rate:>10,.0f} {rate / base:>7.2f}x   "
                      + ", ".join(f"{v:,.0f}" for v in values))
            stop.set()
            requests, delivered = counts.get(timeout=30)
            print(f"\n  gateway: {requests:,} requests, {requests - delivered:,} repeated request_ids "
                  f"(each measurement has fresh keys, so a repeat would be a row sent twice)")
        finally:
            stop.set()
            gateway.join(10)
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
