"""``audit verify`` throughput over a store of a million events, against a raw COPY baseline.

Run from the repository root::

    .venv/bin/python bench/audit.py                          # embedded PostgreSQL in a temp dir
    .venv/bin/python bench/audit.py --database-url postgresql://postgres@127.0.0.1:5432/test --keep

Builds (or, with ``--keep``, reuses) an event table of ``--events`` rows (~300-byte states)
with a valid HMAC chain, generated in Python and COPYed in, then measures in one run:

  baseline   ``COPY (SELECT chain and event columns, by position) TO STDOUT (FORMAT BINARY)``:
             the rows leaving the server with no work done on them
  full       ``EventLog.verify()``: every chain row and event, every MAC recomputed
  checkpoint ``ledgerflow audit verify --since-checkpoint``: the anchored checkpoints are
             checked, then only the events after the newest good one are walked (the
             checkpoint is taken ``--tail`` events before the head); its events/s counts the
             whole store it vouches for, and the rows it walked are printed beside it

Target (issue 17): >= 100,000 events/s. Timing code lives here only; the tests never time anything.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg
from common import cpu_model, postgres_url
from event_store import CHAIN_KEY, TOPIC, make_states
from psycopg.sql import SQL, Identifier

from application.audit.anchoring import ChainAnchoring
from domain.audit.anchors import Checkpoint, checkpoint_key
from infrastructure.audit.lines import FileAnchor
from infrastructure.eventstore.chain import GENESIS, link_hash
from infrastructure.eventstore.store import EventLog, EventStore

TARGET_EPS = 100_000.0


def build(url: str, table: str, events: int) -> None:
    """Rows with a valid chain, COPYed in (the recorder would take minutes for a million)."""
    states = make_states(1024)
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SQL("TRUNCATE {e}, {c}").format(e=Identifier(table), c=Identifier(f"{table}_chain")))
        with conn.transaction():
            prev_hash, prev = GENESIS, 0
            chain_rows = []
            with conn.cursor().copy(SQL(
                    "COPY {e} (notification_id, originator_id, originator_version, topic, state) FROM STDIN"
                    " (FORMAT BINARY)").format(e=Identifier(table))) as copy:
                copy.set_types(["bigint", "uuid", "bigint", "text", "bytea"])
                for pos in range(1, events + 1):
                    oid, state = uuid.uuid4(), states[pos % len(states)]
                    prev_hash = link_hash(CHAIN_KEY, prev_hash, pos, oid, 1, TOPIC, state)
                    copy.write_row((pos, oid, 1, TOPIC, state))
                    chain_rows.append((pos, prev, prev_hash))
                    prev = pos
            with conn.cursor().copy(SQL(
                    "COPY {c} (notification_id, prev_notification_id, hash) FROM STDIN (FORMAT BINARY)"
            ).format(c=Identifier(f"{table}_chain"))) as copy:
                copy.set_types(["bigint", "bigint", "bytea"])
                for row in chain_rows:
                    copy.write_row(row)
        conn.execute(SQL("SELECT setval(pg_get_serial_sequence({t}, 'notification_id'), %s)").format(
            t=psycopg.sql.Literal(table)), (events,))
        conn.execute(SQL("VACUUM ANALYZE {e}").format(e=Identifier(table)))
        conn.execute(SQL("VACUUM ANALYZE {c}").format(c=Identifier(f"{table}_chain")))
    print(f"  built {events:,} events with their chain in {time.perf_counter() - t0:.1f} s")


def stored_events(url: str, table: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(SQL("SELECT count(*) FROM {e}").format(e=Identifier(table))).fetchone()
    return int(row[0]) if row else 0


def timed(call):  # type: ignore[no-untyped-def]
    """(result, wall seconds, this process's CPU seconds): on a shared machine the wall time
    says what a user waits, the CPU time what the walk costs."""
    w0, c0 = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - w0, time.process_time() - c0


def copy_out(url: str, table: str) -> int:
    sql = SQL("COPY (SELECT c.notification_id, c.prev_notification_id, c.hash, e.originator_id,"
              " e.originator_version, e.topic, e.state FROM {c} c JOIN {e} e USING (notification_id)"
              " ORDER BY c.notification_id) TO STDOUT (FORMAT BINARY)").format(
        c=Identifier(f"{table}_chain"), e=Identifier(table))
    size = 0
    with psycopg.connect(url) as conn, conn.cursor().copy(sql) as copy:
        for block in copy:
            size += len(block)
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: embedded PostgreSQL in a temp dir)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the store (default 1,000,000)")
    parser.add_argument("--tail", type=int, default=10_000,
                        help="events written after the checkpoint the incremental verify starts from")
    parser.add_argument("--table", default="bench_audit_events")
    parser.add_argument("--keep", action="store_true", help="keep the table and reuse it when it has --events rows")
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as stack:
        url, embedded = stack.enter_context(postgres_url(args.database_url))
        store = EventStore(url, events_table=args.table, chain_key=CHAIN_KEY, pool_size=2)
        stack.callback(store.close)
        print("Ledgerflow audit verify benchmark")
        print(f"  cpu       : {os.cpu_count()} logical cpus, {cpu_model()}")
        print(f"  postgres  : {'embedded (temp dir)' if embedded else 'external'}")
        if stored_events(url, args.table) != args.events:
            build(url, args.table, args.events)
        else:
            print(f"  reusing {args.events:,} events in {args.table}")
        log = EventLog(store)
        print(f"  load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
        size, base_s, base_cpu = timed(lambda: copy_out(url, args.table))
        base_eps = args.events / base_s
        print(f"  baseline COPY TO STDOUT (binary): {base_s:.2f} s, {size / 1e6:,.0f} MB")

        full, full_s, full_cpu = timed(log.verify)
        assert full.ok and full.checked == args.events, (full.checked, full.problems[:3])

        with tempfile.TemporaryDirectory() as tmp:
            anchor = FileAnchor(Path(tmp) / "anchors.jsonl")
            key = checkpoint_key(CHAIN_KEY)
            at = args.events - args.tail
            anchor.append(Checkpoint.sign(key, at, log.chain_hashes([at])[at], datetime.now(UTC)))
            anchoring = ChainAnchoring(log, anchor, key)
            incremental, inc_s, inc_cpu = timed(lambda: anchoring.verify(since_checkpoint=True))
        assert incremental.ok and incremental.checked == args.tail, incremental.problems[:3]

        rows = [("baseline: COPY (chain ⋈ events) TO STDOUT", base_eps, args.events, base_s, base_cpu),
                ("audit verify (full walk)", args.events / full_s, args.events, full_s, full_cpu),
                ("audit verify --since-checkpoint", args.events / inc_s, args.tail, inc_s, inc_cpu)]
        print()
        print(f"{'measure (events/s = store size / wall time)':<44} {'events/s':>10} {'rows read':>10} "
              f"{'wall s':>7} {'cpu s':>6} {'rows/cpu s':>10} {'vs COPY':>8} {'target':>7}")
        for label, eps, read, seconds, cpu in rows:
            verdict = "" if label.startswith("baseline") else ("met" if eps >= TARGET_EPS else "MISSED")
            print(f"{label:<44} {eps:>10,.0f} {read:>10,} {seconds:>7.2f} {cpu:>6.2f} {read / cpu:>10,.0f} "
                  f"{eps / base_eps:>7.2f}x {verdict:>7}")
        if not args.keep:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SQL("DROP TABLE {e}, {c}").format(e=Identifier(args.table),
                                                               c=Identifier(f"{args.table}_chain")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
