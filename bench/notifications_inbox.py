"""In-app derivation: notifications the ``notifications.inbox`` projection derives per second
from real flow events, beside raw INSERT of the same rows in the same run on the same database.

Run from the repository root (``bench/notifications.py --mode inbox`` runs this)::

    .venv/bin/python bench/notifications.py --mode inbox                     # embedded engines
    .venv/bin/python bench/notifications.py --mode inbox --default-channels sms

What it does, on embedded PostgreSQL, Redis and chDB (the tests' container: the composition
root's classes, no background workers):

  1. sets up the flow tests' firm (tests/integration/flow_firm.py) and lets the projection catch
     up on it (not timed);
  2. each round starts ``--instances`` tenant signings by sam through the flows application (not
     timed): each records the instance's events, among them a ``TaskOpened`` for the OPS entry
     task whose candidates, olga and oscar, each get a ``task_arrived`` notification;
  3. (d) times the projection runner's ``catch_up`` for ``notifications.inbox`` over those events,
     as a projection worker runs it: batches of ``projection_batch_size`` events, each applied and
     tracked in one transaction (the in-app rows and, with ``--default-channels``, the outbox rows);
  4. reads back the rows that round derived and INSERTs the same values into empty copies of the
     tables (``LIKE ... INCLUDING ALL``: same keys and indexes) with the projection's own
     statements: (r) one autocommit statement per row, by one connection (the delivery bench's
     baseline); (rb) in one transaction per ``projection_batch_size`` rows (the runner's commits).

Printed: in-app rows/s, events/s and rows/s of (d), the rows/s of (r) and (rb), and (d) / each.
Timing code lives here only; the tests never time anything.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg

ROWS = ("id, recipient, kind, title, body, link, instance_id, task_id, lead_id, business_line, department_id,"
        " source_id, source_version, position, created_at")
OUTBOX = ("key, notification_id, recipient, channel, kind, language, subject, body, link, payload::text,"
          " next_attempt_at, created_at")
SCRATCH = {"notifications": "bench_notifications", "notifications_outbox": "bench_notifications_outbox"}


def _statements() -> dict[str, str]:
    """The projection's INSERTs (read, not changed), aimed at the scratch copies."""
    from projections.notifications.delivery import INSERT_OUTBOX, INSERT_ROW

    return {"notifications": INSERT_ROW.replace("INTO notifications ", f"INTO {SCRATCH['notifications']} "),
            "notifications_outbox": INSERT_OUTBOX.replace("INTO notifications_outbox ",
                                                          f"INTO {SCRATCH['notifications_outbox']} ")}


def _derived(conn: psycopg.Connection[Any], after: int) -> dict[str, list[Sequence[Any]]]:
    """The rows the projection wrote for events after position ``after``."""
    rows = conn.execute(f"SELECT {ROWS} FROM notifications WHERE position > %s ORDER BY position", (after,)).fetchall()
    ids = [r[0] for r in rows]
    outbox = conn.execute(f"SELECT {OUTBOX} FROM notifications_outbox WHERE notification_id = ANY(%s) ORDER BY key",
                          (ids,)).fetchall()
    return {"notifications": rows, "notifications_outbox": outbox}


def _raw(url: str, derived: dict[str, list[Sequence[Any]]], batch: int | None) -> float:
    """Seconds to INSERT the derived rows into the empty copies: one autocommit statement per row
    (``batch`` None), or ``batch`` rows per transaction."""
    statements = _statements()
    with psycopg.connect(url, autocommit=True) as conn:
        for scratch in SCRATCH.values():
            conn.execute(f"TRUNCATE {scratch}")
        work = [(statements[table], row) for table, rows in derived.items() for row in rows]
        started = time.perf_counter()
        if batch is None:
            for statement, row in work:
                conn.execute(statement, row)
        else:
            for i in range(0, len(work), batch):
                with conn.transaction():
                    for statement, row in work[i:i + batch]:
                        conn.execute(statement, row)
        return time.perf_counter() - started


def run(instances: int, repeat: int, default_channels: str) -> int:
    from bench.common import cpu_model
    from tests.engines import running_container, start_embedded
    from tests.integration.flow_firm import START, as_
    from tests.integration.flow_firm import set_up as firm

    with tempfile.TemporaryDirectory(prefix="ledgerflow-inbox-") as tmp:
        engines, server = start_embedded(Path(tmp) / "engines")
        try:
            with running_container(engines, Path(tmp), notify_default_channels=default_channels) as container:
                firm(container)
                flows = container.flows
                flows.clock = lambda: datetime.now(timezone.utc)  # young events: the outbox is written too
                runner = container.runners["notifications.inbox"]
                runner.catch_up()  # the firm's setup, not timed
                url, batch = container.engines.database_url, container.settings.projection_batch_size
                with psycopg.connect(url, autocommit=True) as conn:
                    for table, scratch in SCRATCH.items():
                        conn.execute(f"CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)")
                    version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
                print("Ledgerflow in-app notification derivation benchmark")
                print(f"  machine   : {cpu_model()}")
                print(f"  postgres  : {version}, embedded (temp dir)")
                print(f"  run       : {instances:,} tenant signings started per round (each: a TaskOpened to 2 "
                      f"handlers); projection batch {batch}; external default channels: "
                      f"{default_channels or 'none (in-app only)'}; {repeat} rounds")
                print()
                results: dict[str, list[float]] = {k: [] for k in ("events", "in_app", "rows", "r", "rb")}
                for round_ in range(repeat):
                    for i in range(instances):
                        flows.start_instance(as_("sam"), "tenant_signing", "institution", START,
                                             title=f"甲公司签约 {round_}-{i}")
                    after = runner.position()
                    started = time.perf_counter()
                    events = runner.catch_up()
                    derive = time.perf_counter() - started
                    with psycopg.connect(url) as conn:
                        derived = _derived(conn, after)
                    in_app, total = len(derived["notifications"]), sum(len(r) for r in derived.values())
                    if in_app != 2 * instances:
                        raise SystemExit(f"expected {2 * instances} task_arrived rows, the projection wrote {in_app}")
                    results["events"].append(events / derive)
                    results["in_app"].append(in_app / derive)
                    results["rows"].append(total / derive)
                    results["r"].append(total / _raw(url, derived, None))
                    results["rb"].append(total / _raw(url, derived, batch))
                    print(f"  round {round_ + 1}: {events:,} events -> {in_app:,} in-app rows"
                          f" + {total - in_app:,} outbox rows in {derive:.2f} s", flush=True)
        finally:
            if engines.embedded_redis:
                engines.embedded_redis.stop()
            server.stop()

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n  {'measurement (median of ' + str(repeat) + ')':<58} {'per s':>10}   all rounds")
    for key, label in (("events", "(d)  events applied by the projection"),
                       ("in_app", "(d)  in-app notifications derived"),
                       ("rows", "(d)  rows written (in-app + outbox)"),
                       ("r", "(r)  raw INSERT of the same rows, autocommit, 1 connection"),
                       ("rb", f"(rb) raw INSERT of the same rows, {batch} per transaction")):
        print(f"  {label:<58} {med[key]:>10,.0f}   " + ", ".join(f"{v:,.0f}" for v in results[key]))
    print(f"\n  derivation / raw INSERT: {med['rows'] / med['r']:.2f}x of (r), {med['rows'] / med['rb']:.2f}x of (rb)"
          " (rows written per second)")
    return 0
