"""Rebuild throughput of every read model (blue/green, ADR 0029) beside a raw COPY of the same
rows, in the same run.

Run from the repository root::

    .venv/bin/python bench/projections.py                    # 1,000,000 events, embedded engines
    .venv/bin/python bench/projections.py --events 100000    # a quick run
    .venv/bin/python bench/projections.py --database-url postgresql://postgres@127.0.0.1:5432/test

The store: the demo firm is loaded through the applications (departments, operators, roles,
forms, flow definitions, sample flows driven to their end, archive documents, leads with their
follow-ups, agreements, signatures, screenings, notifications): that is the mix of events. Its
business streams (leads, flow instances, form records, documents, notifications, agreements,
signing requests, screenings...) are then copied until the store holds ``--events`` events:
each copy gets new aggregate ids (every id of a copied stream is mapped, in the payload too) and
its events are COPYed into the event table with their audit-chain rows (valid ``link_hash``
links, so ``ledgerflow audit verify`` passes on the result). Configuration streams (departments,
operators, roles, definitions, channels, rule books) exist once, as in a real firm.

Measured:
  (a) raw COPY: every stored row (originator_id, version, topic, state) COPYed in binary into a
      plain table of the same shape, one transaction — the baseline;
  (b) rebuild of all read models: each projection rebuilt blue/green (build tables, catch up,
      switch, drop), one after the other or ``--parallel N`` at a time (each on its own
      connection, as the workers do at a deploy), PostgreSQL read models and ClickHouse sinks;
      events/s is the store's events divided by the total time, so it compares with (a) row for row;
  (c) optionally (--old-path), the in-place rebuild this replaced (truncate + catch-up in
      batches of 500) of ``leads.leads`` alone;
  (d) ``audit verify`` of the same store: the full walk, and from a checkpoint anchored at the
      head (bench/audit.py measures both in depth on a generated chain).
Targets (issue 17): (b) >= 0.6 x (a); (d) >= 100,000 events/s. Timing code lives here only.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ comes first on the path, and this file would hide the projections package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg
from psycopg.sql import SQL, Identifier

from bench.common import cpu_model, postgres_url

UUID_TEXT = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Aggregates that are configuration (one per firm), not business: never copied.
CONFIGURATION = ("domain.access.", "domain.forms.business_type", "domain.forms.data_source",
                 "domain.flows.definition", "domain.leads.channel", "domain.leads.rule", "domain.calendar.",
                 "domain.feerates.", "domain.flows.report", "domain.flows.cockpit", "domain.agreements.template",
                 "domain.compliance.list", "domain.leads.segment", "domain.leads.sop", "domain.leads.blacklist",
                 "domain.leads.line")


def _settings(data_dir: Path, database_url: str) -> Any:
    from infrastructure.settings import Mode, Settings

    return Settings(mode=Mode.development, data_dir=data_dir, database_url=database_url,  # type: ignore[call-arg]
                    projection_rebuild_batch_size=ARGS.batch)


def load_seed(container: Any) -> None:
    from interfaces.demo import load_demo

    load_demo(container)
    for runner in container.runners.values():
        runner.catch_up()


def seed_streams(container: Any) -> tuple[list[tuple], set[bytes]]:
    """The business events of the seed (in store order) and the ids their copies remap."""
    store = container.store
    table = Identifier(store.datastore.schema, store.recorder.events_table_name)
    with store.datastore.get_connection() as conn:
        rows = conn.execute(SQL("SELECT originator_id, originator_version, topic, state FROM {t}"
                                " ORDER BY notification_id").format(t=table)).fetchall()
    first_topic: dict[Any, str] = {}
    for r in rows:
        first_topic.setdefault(r["originator_id"], r["topic"])
    business = {oid for oid, topic in first_topic.items() if not topic.startswith(CONFIGURATION)}
    events = [(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
              for r in rows if r["originator_id"] in business]
    return events, {str(oid).encode() for oid in business}


class Remap:
    """Maps the ids of copied streams to new ones, the same way for every event of one copy."""

    def __init__(self, remap: set[bytes], copy: int):
        self.remap, self.suffix, self.mapped = remap, f":{copy}".encode(), {}  # type: dict[bytes, bytes]

    def __call__(self, m: re.Match[bytes]) -> bytes:
        old = m.group(0)
        if old not in self.remap:
            return old
        got = self.mapped.get(old)
        if got is None:
            got = self.mapped[old] = str(uuid.uuid5(uuid.NAMESPACE_OID, (old + self.suffix).decode())).encode()
        return got


def copy_store(container: Any, seed: list[tuple], remap: set[bytes], target: int) -> int:
    """COPY copies of the seed's business streams, with chain rows, until the store holds ``target``."""
    from infrastructure.eventstore.chain import link_hash

    store = container.store
    schema = store.datastore.schema
    events = Identifier(schema, store.recorder.events_table_name)
    chain = Identifier(schema, store.recorder.chain.name)
    with store.datastore.get_connection() as conn:
        head = conn.execute(SQL("SELECT notification_id, hash FROM {c} ORDER BY notification_id DESC LIMIT 1"
                                ).format(c=chain)).fetchone()
    position, prev = head["notification_id"], bytes(head["hash"])
    key = store.chain_key
    copies = 0
    with psycopg.connect(container.engines.database_url, autocommit=True) as conn:
        while position < target:
            copies += 1
            new_id = Remap(remap, position)  # the first position of the copy: unique across runs
            with conn.transaction():
                with conn.cursor().copy(SQL("COPY {e} (notification_id, originator_id, originator_version, topic,"
                                            " state) FROM STDIN (FORMAT BINARY)").format(e=events)) as copy_e:
                    copy_e.set_types(["int8", "uuid", "int8", "text", "bytea"])
                    links = []
                    for oid, version, topic, state in seed:
                        if position >= target:
                            break
                        position += 1
                        new_oid = new_id(UUID_TEXT.match(str(oid).encode()))  # type: ignore[arg-type]
                        state = UUID_TEXT.sub(new_id, state)
                        prev = link_hash(key, prev, position, new_oid.decode(), version, topic, state)
                        copy_e.write_row((position, uuid.UUID(new_oid.decode()), version, topic, state))
                        links.append((position, position - 1, prev))
                with conn.cursor().copy(SQL("COPY {c} (notification_id, prev_notification_id, hash)"
                                            " FROM STDIN (FORMAT BINARY)").format(c=chain)) as copy_c:
                    copy_c.set_types(["int8", "int8", "bytea"])
                    for link in links:
                        copy_c.write_row(link)
        conn.execute(SQL("ANALYZE {e}").format(e=events))
    return copies


def raw_copy(container: Any) -> tuple[int, float]:
    """Every stored row COPYed (binary) into a plain table of the same shape: the baseline."""
    store = container.store
    events = Identifier(store.datastore.schema, store.recorder.events_table_name)
    with psycopg.connect(container.engines.database_url, autocommit=True) as conn:
        rows = conn.execute(SQL("SELECT notification_id, originator_id, originator_version, topic, state FROM {e}"
                                " ORDER BY notification_id").format(e=events)).fetchall()
        conn.execute("DROP TABLE IF EXISTS bench_raw_copy")
        conn.execute("CREATE TABLE bench_raw_copy (notification_id bigint PRIMARY KEY, originator_id uuid NOT NULL,"
                     " originator_version bigint NOT NULL, topic text NOT NULL, state bytea NOT NULL,"
                     " UNIQUE (originator_id, originator_version))")
        t0 = time.perf_counter()
        with conn.transaction(), conn.cursor().copy("COPY bench_raw_copy FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "uuid", "int8", "text", "bytea"])
            for row in rows:
                copy.write_row(row)
        elapsed = time.perf_counter() - t0
        conn.execute("DROP TABLE bench_raw_copy")
    return len(rows), elapsed


def rebuild_all(container: Any) -> tuple[float, dict[str, float], dict[str, int]]:
    from concurrent.futures import ThreadPoolExecutor

    from infrastructure.rebuilds import BlueGreenRebuild

    timings: dict[str, float] = {}
    parked: dict[str, int] = {}

    def one(name: str) -> None:
        runner = container.runners[name]
        t = time.perf_counter()
        BlueGreenRebuild(runner, batch_size=ARGS.batch).run(restart=True)
        timings[name] = time.perf_counter() - t
        parked[name] = runner.status().parked

    t0 = time.perf_counter()
    with ThreadPoolExecutor(ARGS.parallel) as pool:  # each rebuild on its own connection, as workers do
        list(pool.map(one, container.runners))
    return time.perf_counter() - t0, timings, parked


def old_path(container: Any, name: str) -> float:
    runner = container.runners[name]
    batch = runner.batch_size
    runner.batch_size = 500
    t0 = time.perf_counter()
    runner.reset()
    runner.catch_up()
    runner.batch_size = batch
    return time.perf_counter() - t0


def counts(container: Any) -> dict[str, int]:
    out = {}
    with container.store.datastore.get_connection() as conn:
        for runner in container.runners.values():
            if runner.projection.kind == "postgres":
                for table in runner.projection.tables:
                    out[table] = conn.execute(SQL("SELECT count(*) AS n FROM {t}").format(t=Identifier(table))
                                              ).fetchone()["n"]
    ch = container.clickhouse
    for runner in container.runners.values():
        if runner.projection.kind == "clickhouse":
            for table in runner.projection.tables:
                out[table] = ch.query(f"SELECT count() FROM {ch.db}.`{table}` FINAL")[0][0]
    return out


def main() -> int:
    from interfaces.bootstrap import Container

    with tempfile.TemporaryDirectory(prefix="ledgerflow-bench-proj-") as tmp, \
            postgres_url(ARGS.database_url) as (url, embedded):
        container = Container.start(_settings(Path(tmp), url))
        try:
            t0 = time.perf_counter()
            load_seed(container)
            seed, remap = seed_streams(container)
            copies = copy_store(container, seed, remap, ARGS.events)
            for runner in container.runners.values():
                runner.catch_up() if ARGS.live_catch_up or ARGS.check else None
            head = container.store.head()
            topics = Counter()
            with container.store.datastore.get_connection() as conn:
                for r in conn.execute(SQL("SELECT split_part(topic, ':', 1) AS module, count(*) AS n FROM {e}"
                                          " GROUP BY 1 ORDER BY 2 DESC").format(
                        e=Identifier(container.store.datastore.schema,
                                     container.store.recorder.events_table_name))).fetchall():
                    topics[r["module"]] = r["n"]
            print(f"store: {head:,} events ({len(seed):,} business events in the seed, {copies} copies),"
                  f" built in {time.perf_counter() - t0:.0f} s; PostgreSQL {'embedded' if embedded else url}")
            print("mix: " + ", ".join(f"{m.removeprefix('domain.')} {n / head:.0%}" for m, n in topics.most_common(8)))
            print(f"cpu: {cpu_model()}")
            rows, copy_s = raw_copy(container)
            copy_eps = rows / copy_s
            print(f"(a) raw COPY of {rows:,} rows: {copy_s:.1f} s = {copy_eps:,.0f} events/s")
            before = counts(container) if ARGS.check else None
            total, timings, parked = rebuild_all(container)
            eps = head / total
            print(f"(b) blue/green rebuild of all {len(timings)} read models ({ARGS.parallel} at a time):"
                  f" {total:.1f} s = {eps:,.0f} events/s"
                  f" = {eps / copy_eps:.2f} x raw COPY (target >= 0.60)")
            for name, seconds in sorted(timings.items(), key=lambda kv: -kv[1]):
                print(f"    {name:28s} {seconds:7.1f} s{f'  ({parked[name]} parked)' if parked[name] else ''}")
            if before is not None:
                after = counts(container)
                diff = {t: (before[t], after.get(t)) for t in before if before[t] != after.get(t)}
                print("    rebuilt tables equal the live ones row for row" if not diff else f"    DIFFER: {diff}")
            # (d) audit verify over the same store, beside the same COPY: the whole chain, then from
            # a checkpoint anchored now (what the periodic checkpoints make the common case).
            t = time.perf_counter()
            full = container.audit.verify()
            full_s = time.perf_counter() - t
            print(f"(d) audit verify, full walk: {full.checked:,} events in {full_s:.1f} s ="
                  f" {head / full_s:,.0f} events/s = {head / full_s / copy_eps:.2f} x raw COPY"
                  f" ({'intact' if full.ok else f'{len(full.problems)} problems'}; target >= 100,000 events/s)")
            container.audit.checkpoint()
            t = time.perf_counter()
            since = container.audit.verify(since_checkpoint=True)
            since_s = time.perf_counter() - t
            print(f"    from the checkpoint at {since.walked_after:,}: {since_s:.2f} s ="
                  f" {head / since_s:,.0f} store events/s ({'intact' if since.ok else 'problems'})")
            if ARGS.old_path:
                seconds = old_path(container, "leads.leads")
                print(f"(c) in-place rebuild of leads.leads (truncate, batches of 500): {seconds:.1f} s ="
                      f" {head / seconds:,.0f} store events/s; blue/green took {timings['leads.leads']:.1f} s")
        finally:
            container.close()
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="events in the store (default 1,000,000)")
    p.add_argument("--batch", type=int, default=10_000, help="events per rebuild transaction")
    p.add_argument("--database-url", help="a PostgreSQL server (default: embedded in a temp dir)")
    p.add_argument("--parallel", type=int, default=1, help="rebuild this many projections at once")
    p.add_argument("--old-path", action="store_true", help="also time the in-place rebuild of leads.leads")
    p.add_argument("--check", action="store_true", help="compare row counts before and after the rebuild")
    p.add_argument("--live-catch-up", action="store_true", help="catch the live projections up first")
    return p.parse_args(argv)


ARGS = parse([])
if __name__ == "__main__":
    ARGS = parse()
    raise SystemExit(main())
