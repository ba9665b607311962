"""Flow instances/s: the 004 flow (start + 4 approvals) through the application layer on
PostgreSQL, beside SpiffWorkflow running the same flow as BPMN with its state persisted to
PostgreSQL after each step. One run, one database server.

Run from the repository root::

    .venv/bin/python bench/flows.py                        # embedded PostgreSQL + Redis in a temp dir
    .venv/bin/python bench/flows.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/flows.py --instances 400 --threads 4

The flow (both engines): start -> ops_review -> clearing_review -> finance_review ->
final_approval -> end; each approval is decided by one person holding a role (ops, clearing,
finance, finance). One instance = 5 commands, each committed to PostgreSQL on its own:

  ledgerflow   ``FlowsApplication.start_instance`` then 4 x ``approve`` through the
               composed container (``Container.start(..., workers=False)``: no projections run, so
               this is the command side only). Every command loads the flow definition and the
               instance from the event store, validates the form (start), resolves the assignees
               (read model query), and saves its events with the real recorder (group commit,
               hash chain). The form is the tenant-signing form of seed 004 (TENANT_SIGNING), the
               flow its 4-approval reduction, published as its own definition (``tenant_signing_4``).
  spiff        SpiffWorkflow's BPMN parser loads ``bench/tenant_signing.bpmn`` (same flow, user tasks
               in role lanes); per instance the workflow is created with the same form data, then
               each ready user task is checked against its lane, given approver/comment data and
               completed. After the start and after each approval the workflow is serialized with
               ``BpmnWorkflowSerializer.serialize_json`` and UPSERTed into
               ``spiff_workflows(id uuid primary key, state jsonb, completed bool, updated_at)``
               with psycopg in autocommit (one committed write per step). The workflow object
               stays in memory between steps (the brief's baseline, used for PASS/FAIL). An extra
               row (``--no-spiff-reload`` to skip) also reloads the state from PostgreSQL and
               deserializes it before each approval, as a stateless service handling separate
               requests would (our engine always reloads).

Each (engine, threads) measurement runs ``--instances`` instances split over the threads, after
an untimed warm-up; engines alternate (ours 1 thread, spiff 1 thread, ours N threads, spiff N
threads) on the same database. Instance ids and task ids are known to the driver up front
(task ids are deterministic per definition version and learnt in the warm-up), so no extra
reads are timed. Afterwards every instance is checked to have completed.

Targets (issue "Code health"): ours >= 1.0x SpiffWorkflow instances/s single-threaded, and >= 1.5x
SpiffWorkflow reloading its state from PostgreSQL at every step.

Timing code lives here only; the tests never time anything.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg
from common import cpu_model
from psycopg.sql import SQL, Identifier

BPMN_FILE = Path(__file__).resolve().parent / "tenant_signing.bpmn"
BPMN_PROCESS = "tenant_signing_bench"
FLOW_KEY = "tenant_signing_4"
BUSINESS_TYPE = "tenant_signing"
SUBJECT = "institution"
TARGET_RATIO = 1.0
RELOAD_TARGET_RATIO = 1.5

TENANT = {"basic": {"tenant_name_cn": "甲公司", "uscc": "91350100M000100Y43", "contact_name": "王",
                    "contact_phone": "13812345678"},
          "commercial": {"products": ["VCC"], "term_months": 12}}

# node -> (role, the operator who decides it)
APPROVALS = [("ops_review", "ops", "olga"), ("clearing_review", "clearing", "clara"),
             ("finance_review", "finance", "fiona"), ("final_approval", "finance", "fiona")]
INITIATOR = "sam"
PEOPLE = {"sam": ["sales"], "olga": ["ops"], "clara": ["clearing"], "fiona": ["finance"]}


def four_approval_flow() -> dict[str, Any]:
    """The 004 tenant signing reduced to start + 4 single-mode approvals, each to a role."""
    from interfaces.demo_flows import approval, edge

    nodes = [{"id": "start", "type": "start", "name": "销售发起 SALES starts"}]
    nodes += [approval(node, node.replace("_", " "), "single", role) for node, role, _ in APPROVALS]
    nodes += [{"id": "end", "type": "end", "name": "协议生效 In force"}]
    ids = [n["id"] for n in nodes]
    return {"nodes": nodes, "edges": [edge(a, b) for a, b in zip(ids, ids[1:], strict=False)]}


# -- measurement ---------------------------------------------------------------------------

@dataclass
class Result:
    engine: str
    threads: int
    instances: int
    seconds: float
    note: str = ""

    @property
    def ips(self) -> float:
        return self.instances / self.seconds if self.seconds > 0 else 0.0


def run_threads(threads: int, instances: int, make_worker: Callable[[int], tuple[Callable[[int], None],
                                                                             Callable[[], None]]]) -> float:
    """Runs ``instances`` instances split over ``threads`` threads; returns the wall time from the
    moment every thread is ready until the last one finishes. ``make_worker(i)`` runs in thread i
    and returns (run_one(n), cleanup)."""
    share = [instances // threads + (1 if i < instances % threads else 0) for i in range(threads)]
    ready = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        cleanup = None
        try:
            run_one, cleanup = make_worker(i)
        except BaseException as exc:
            errors.append(exc)
            ready.abort()
            return
        try:
            ready.wait()
            for n in range(share[i]):
                run_one(n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            if cleanup is not None:
                cleanup()

    workers = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        ready.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return elapsed


# -- ledgerflow ----------------------------------------------------------------------------

class Ours:
    def __init__(self, database_url: str, redis_url: str, clickhouse_url: str, data_dir: Path):
        from infrastructure.settings import Mode, Settings
        from interfaces.bootstrap import Container, Engines

        suffix = uuid.uuid4().hex[:10]
        settings = Settings(mode=Mode.test, data_dir=data_dir, redis_prefix=f"lf-bench-{suffix}:",
                            clickhouse_database=f"lf_bench_{suffix}", bootstrap_admin_token=uuid.uuid4().hex * 2,
                            audit_chain_key=uuid.uuid4().hex * 2, master_key=uuid.uuid4().hex * 2)
        self.settings = settings
        self.container = Container.start(settings, engines=Engines(database_url, redis_url, clickhouse_url),
                                         workers=False)
        self.flows = self.container.flows
        self.task_ids: list[str] = []
        self.ids: list[uuid.UUID] = []
        self._lock = threading.Lock()

    def seed(self) -> None:
        from domain.shared.context import CommandContext
        from interfaces.demo_forms import TENANT_SIGNING

        admin = CommandContext("admin:bench", "bench-setup")
        c = self.container
        access, forms, flows = c.access, c.forms, c.flows
        access.create_business_line(admin, "brokerage", "Brokerage")
        hq = access.create_department(admin, "HQ", "HQ", "head_office", None).id
        for role in sorted({r for roles in PEOPLE.values() for r in roles}):
            access.create_role(admin, role, role, ["access.departments.view"])
        for login, roles in PEOPLE.items():
            op = access.create_operator(admin, login, login, hq, None, None, None).id
            access.grant_roles(admin, op, roles)
            access.set_business_lines(admin, op, ["brokerage"])
        forms.create_business_type(admin, BUSINESS_TYPE, BUSINESS_TYPE, "brokerage", "", [SUBJECT])
        forms.save_draft(admin, BUSINESS_TYPE, SUBJECT, TENANT_SIGNING, None)
        forms.publish(admin, BUSINESS_TYPE, None)
        flows.create_definition(admin, FLOW_KEY, "租户签约 (4 approvals)", BUSINESS_TYPE, "brokerage", "")
        flows.save_draft(admin, FLOW_KEY, four_approval_flow(),
                         {"deduplication": "none", "empty_assignee": "block"}, None)
        flows.publish(admin, FLOW_KEY, None)
        for runner in c.runners.values():  # the read models the assignee resolver queries
            runner.catch_up()

    def learn_task_ids(self) -> None:
        """One untimed instance, walked by looking at its open task each step: the task ids
        (deterministic for a definition version) and who may decide them."""
        from domain.shared.context import CommandContext

        flows = self.flows
        started = flows.start_instance(CommandContext(f"operator:{INITIATOR}", "bench-learn"), FLOW_KEY, SUBJECT,
                                       TENANT, title="learn")
        for node, _, login in APPROVALS:
            (task,) = [t for t in flows.instance(started.id).tasks.values() if t.status == "open"]
            assert task.node == node and f"operator:{login}" in task.candidates, task
            self.task_ids.append(task.id)
            flows.approve(CommandContext(f"operator:{login}", "bench-learn"), started.id, task.id, "ok")
        assert flows.instance(started.id).status == "completed"

    def worker(self, label: str) -> Callable[[int], tuple[Callable[[int], None], Callable[[], None]]]:
        from domain.shared.context import CommandContext

        flows, task_ids = self.flows, self.task_ids

        def make(i: int) -> tuple[Callable[[int], None], Callable[[], None]]:
            mine: list[uuid.UUID] = []
            initiator = f"operator:{INITIATOR}"
            deciders = [f"operator:{login}" for _, _, login in APPROVALS]

            def run_one(n: int) -> None:
                corr = f"bench-{label}-{i}-{n}"
                started = flows.start_instance(CommandContext(initiator, corr), FLOW_KEY, SUBJECT, TENANT,
                                               title=f"甲公司签约 {n}")
                for task_id, actor in zip(task_ids, deciders, strict=True):
                    flows.approve(CommandContext(actor, corr), started.id, task_id, "同意 approved")
                mine.append(started.id)

            def done() -> None:
                with self._lock:
                    self.ids.extend(mine)

            return run_one, done

        return make

    def run(self, label: str, threads: int, instances: int, warmup: int) -> Result:
        if warmup:
            run_threads(1, warmup, self.worker(f"{label}-warm"))
        rec = self.container.store.recorder
        stats = getattr(rec, "stats", None)
        before = (stats.transactions, stats.events) if stats is not None else None
        cpu = time.process_time()
        elapsed = run_threads(threads, instances, self.worker(label))
        note = f"py cpu {1000 * (time.process_time() - cpu) / max(1, instances):.1f} ms/inst, "
        if before is not None:
            txns, events = stats.transactions - before[0], stats.events - before[1]
            note += f"{events / max(1, instances):.0f} events/inst, {txns / max(1, instances):.1f} txns/inst"
        return Result("ledgerflow", threads, instances, elapsed, note)

    def verify(self) -> tuple[int, int]:
        done = sum(1 for i in self.ids if self.flows.instance(i).status == "completed")
        return done, len(self.ids)

    def close(self) -> None:
        c = self.container
        try:
            c.clickhouse.command(f"DROP DATABASE IF EXISTS {c.clickhouse.db}")
        finally:
            c.close()


# -- SpiffWorkflow -------------------------------------------------------------------------

class Spiff:
    TABLE = "spiff_workflows"

    def __init__(self, database_url: str):
        import SpiffWorkflow  # noqa: F401

        self.url = database_url
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(SQL("DROP TABLE IF EXISTS {t}").format(t=Identifier(self.TABLE)))
            conn.execute(SQL("CREATE TABLE {t} (id uuid PRIMARY KEY, state jsonb NOT NULL, completed boolean"
                             " NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT now())"
                             ).format(t=Identifier(self.TABLE)))
        self.upsert = SQL("INSERT INTO {t} (id, state, completed, updated_at) VALUES (%s, %s::jsonb, %s, now())"
                          " ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, completed = EXCLUDED.completed,"
                          " updated_at = EXCLUDED.updated_at").format(t=Identifier(self.TABLE))
        self.select = SQL("SELECT state::text FROM {t} WHERE id = %s").format(t=Identifier(self.TABLE))
        self.ids: list[uuid.UUID] = []
        self.state_bytes = 0
        self.writes = 0
        self._lock = threading.Lock()

    @staticmethod
    def parse() -> Any:
        from SpiffWorkflow.bpmn.parser import BpmnParser

        parser = BpmnParser()
        parser.add_bpmn_file(str(BPMN_FILE))
        return parser.get_spec(BPMN_PROCESS)

    def worker(self, label: str, reload: bool) -> Callable[[int], tuple[Callable[[int], None], Callable[[], None]]]:
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
        from SpiffWorkflow.util.task import TaskState

        roles = {f"operator:{login}": set(r) for login, r in PEOPLE.items()}

        def make(i: int) -> tuple[Callable[[int], None], Callable[[], None]]:
            spec = self.parse()                   # per thread: nothing shared between threads
            serializer = BpmnWorkflowSerializer()  # (its registry toggles an encoder flag)
            conn = psycopg.connect(self.url, autocommit=True)
            cur = conn.cursor()
            mine: list[uuid.UUID] = []
            sizes = [0, 0]
            deciders = [f"operator:{login}" for _, _, login in APPROVALS]

            def persist(wf_id: uuid.UUID, wf: Any) -> None:
                state = serializer.serialize_json(wf)
                cur.execute(self.upsert, (wf_id, state, wf.is_completed()), prepare=True)
                sizes[0] += len(state)
                sizes[1] += 1

            def load(wf_id: uuid.UUID) -> Any:
                cur.execute(self.select, (wf_id,), prepare=True)
                return serializer.deserialize_json(cur.fetchone()[0])

            def run_one(n: int) -> None:
                wf_id = uuid.uuid4()
                wf = BpmnWorkflow(spec)
                start = wf.get_next_task(state=TaskState.READY)
                start.data.update(form=TENANT, title=f"甲公司签约 {n}", initiator=f"operator:{INITIATOR}",
                                  started_at=time.time())
                wf.do_engine_steps()
                persist(wf_id, wf)
                for actor in deciders:
                    if reload:
                        wf = load(wf_id)
                    (task,) = wf.get_tasks(state=TaskState.READY, manual=True)
                    if task.task_spec.lane not in roles[actor]:
                        raise PermissionError(f"{actor} may not decide {task.task_spec.bpmn_id}")
                    task.data.update(approver=actor, comment="同意 approved", decided_at=time.time())
                    task.run()
                    wf.do_engine_steps()
                    persist(wf_id, wf)
                if not wf.is_completed():
                    raise AssertionError(f"spiff workflow {wf_id} did not complete")
                mine.append(wf_id)

            def done() -> None:
                conn.close()
                with self._lock:
                    self.ids.extend(mine)
                    self.state_bytes += sizes[0]
                    self.writes += sizes[1]

            return run_one, done

        return make

    def run(self, label: str, threads: int, instances: int, warmup: int, reload: bool = False) -> Result:
        if warmup:
            run_threads(1, warmup, self.worker(f"{label}-warm", reload))
        bytes0, writes0 = self.state_bytes, self.writes
        cpu = time.process_time()
        elapsed = run_threads(threads, instances, self.worker(label, reload))
        cpu = time.process_time() - cpu
        writes = self.writes - writes0
        note = (f"py cpu {1000 * cpu / max(1, instances):.1f} ms/inst, {writes / max(1, instances):.0f} writes/inst, "
                f"{(self.state_bytes - bytes0) / max(1, writes) / 1024:.1f} KiB state/write")
        return Result("spiff (reload/step)" if reload else "spiff", threads, instances, elapsed, note)

    def verify(self) -> tuple[int, int]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            done = conn.execute(SQL("SELECT count(*) FROM {t} WHERE completed AND id = ANY(%s)").format(
                t=Identifier(self.TABLE)), (self.ids,)).fetchone()[0]
        return done, len(self.ids)


# -- engines -------------------------------------------------------------------------------

def server_info(url: str) -> dict[str, str]:
    info = {}
    with psycopg.connect(url, autocommit=True) as conn:
        info["version"] = conn.execute("SELECT version()").fetchone()[0].split(" on ")[0]
        for setting in ("fsync", "synchronous_commit", "shared_buffers"):
            try:
                info[setting] = conn.execute(SQL("SHOW {s}").format(s=Identifier(setting))).fetchone()[0]
            except psycopg.Error:
                info[setting] = "?"
        info["transport"] = "unix socket" if (conn.pgconn.host or b"").startswith(b"/") else "tcp"
    return info


def with_dbname(url: str, dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**params)


def version_of(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


# -- report ---------------------------------------------------------------------------------

def print_table(results: list[Result], baseline: dict[int, Result]) -> None:
    header = (f"{'engine':<20} {'threads':>7} {'instances':>9} {'seconds':>8} {'instances/s':>11} "
              f"{'ratio ours/spiff':>16} {'target':>6}  notes")
    print(header)
    print("-" * len(header))
    for r in results:
        ratio, verdict = "", ""
        if r.engine == "ledgerflow" and r.threads in baseline:
            x = r.ips / baseline[r.threads].ips if baseline[r.threads].ips else float("nan")
            ratio, verdict = f"{x:.2f}x", ("PASS" if x >= TARGET_RATIO else "FAIL")
        elif r.engine.startswith("spiff (reload"):
            ours = next((o for o in results if o.engine == "ledgerflow" and o.threads == r.threads), None)
            if ours and r.ips:
                ratio = f"({ours.ips / r.ips:.2f}x)"
                verdict = "PASS" if ours.ips / r.ips >= RELOAD_TARGET_RATIO else "FAIL"
        print(f"{r.engine:<20} {r.threads:>7} {r.instances:>9} {r.seconds:>8.2f} {r.ips:>11.1f} "
              f"{ratio:>16} {verdict:>6}  {r.note}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server URL; a fresh database is created on it and "
                        "dropped afterwards (default: embedded PostgreSQL in a temp dir)")
    parser.add_argument("--redis-url", help="Redis URL (default: embedded redis-server in a temp dir)")
    parser.add_argument("--instances", type=int, default=1000,
                        help="instances per measurement (default 1000: the whole run takes ~1-2 min on 2 cores)")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads of the concurrent measurement (default 4; 1 = single-threaded only)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed instances before each measurement")
    parser.add_argument("--spiff-reload", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure spiff reloading + deserializing its state before each approval "
                        "(informational row, default on)")
    args = parser.parse_args(argv)

    from infrastructure.engines.embedded import EmbeddedPostgres, EmbeddedRedis, quiet_platformdirs_warning

    quiet_platformdirs_warning()
    tmp = tempfile.TemporaryDirectory(prefix="ledgerflow-bench-flows-")
    root = Path(tmp.name)
    pg = rs = ours = None
    admin_url = args.database_url
    dbname = f"lf_bench_{uuid.uuid4().hex[:12]}"
    created = False
    try:
        t_setup = time.perf_counter()
        if not admin_url:
            pg = EmbeddedPostgres(root)
            admin_url = pg.start()
        redis_url = args.redis_url
        if not redis_url:
            rs = EmbeddedRedis(root)
            rs.start()
            redis_url = rs.url
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(SQL("CREATE DATABASE {}").format(Identifier(dbname)))
        created = True
        url = with_dbname(admin_url, dbname)

        info = server_info(url)
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print("Ledgerflow flow instances vs SpiffWorkflow")
        print(f"  machine   : {platform.node()} {platform.system()} {platform.release()} {platform.machine()}")
        print(f"  cpu       : {os.cpu_count()} logical cpus ({affinity} usable), {cpu_model()}")
        print(f"  python    : {platform.python_version()}  psycopg {psycopg.__version__} ({psycopg.pq.__impl__})  "
              f"eventsourcing {version_of('eventsourcing')}  SpiffWorkflow {version_of('SpiffWorkflow')}")
        print(f"  postgres  : {info['version']}, {'embedded (temp dir)' if pg else 'external'}, "
              f"{info['transport']}; fsync={info['fsync']} synchronous_commit={info['synchronous_commit']} "
              f"shared_buffers={info['shared_buffers']}")
        print(f"  flow      : start + 4 approvals = 5 commands, one committed write each; "
              f"{args.instances} instances per measurement after {args.warmup} warm-up")
        print(flush=True)

        ours = Ours(url, redis_url, f"chdb:///{root / 'clickhouse'}", root / "data")
        ours.seed()
        ours.learn_task_ids()
        spiff = Spiff(url)
        print(f"  setup     : {time.perf_counter() - t_setup:.1f} s (engines, schema, seed); "
              f"task ids {ours.task_ids}", flush=True)

        results: list[Result] = []
        baseline: dict[int, Result] = {}
        thread_counts = [1] + ([args.threads] if args.threads > 1 else [])
        for threads in thread_counts:
            print(f"  running {threads} thread(s) ...", flush=True)
            results.append(ours.run(f"o{threads}", threads, args.instances, args.warmup))
            baseline[threads] = spiff.run(f"s{threads}", threads, args.instances, args.warmup)
            results.append(baseline[threads])
            if args.spiff_reload:
                results.append(spiff.run(f"r{threads}", threads, args.instances, args.warmup, reload=True))

        ok_ours, n_ours = ours.verify()
        ok_spiff, n_spiff = spiff.verify()
        print(f"  verified  : ledgerflow {ok_ours}/{n_ours} completed, spiff {ok_spiff}/{n_spiff} completed")
        print()
        print_table(results, baseline)
        for threads in thread_counts:
            r = next(o for o in results if o.engine == "ledgerflow" and o.threads == threads)
            x = r.ips / baseline[threads].ips if baseline[threads].ips else 0.0
            print(f"target ours >= {TARGET_RATIO:g}x SpiffWorkflow, {threads} thread(s): "
                  f"{r.ips:.1f} vs {baseline[threads].ips:.1f} inst/s = {x:.2f}x -> "
                  f"{'PASS' if x >= TARGET_RATIO else 'FAIL'}")
            reload = next((o for o in results if o.engine.startswith("spiff (reload") and o.threads == threads), None)
            if reload is not None and reload.ips:
                y = r.ips / reload.ips
                print(f"target ours >= {RELOAD_TARGET_RATIO:g}x SpiffWorkflow reloading per step, {threads} thread(s): "
                      f"{r.ips:.1f} vs {reload.ips:.1f} inst/s = {y:.2f}x -> "
                      f"{'PASS' if y >= RELOAD_TARGET_RATIO else 'FAIL'}")
        if ok_ours != n_ours or ok_spiff != n_spiff:
            print("VERIFY FAILED: not every instance completed")
            return 2
        return 0  # a missed target is reported above, not an error (as bench/event_store.py)
    finally:
        if ours is not None:
            ours.close()
        if created:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(dbname)))
        if rs is not None:
            rs.stop()
        if pg is not None:
            pg.stop()
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
