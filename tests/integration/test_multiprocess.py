"""The server-mode deployment, proven (issue 17 point 7, docs/deployment.md): two API processes
(`ledgerflow serve`, workers off) and two worker processes (`ledgerflow worker`) share one PostgreSQL
and one Redis. Under load through both APIs, the worker caught holding a projection's batch lock
is killed with SIGKILL; the other worker carries the projection past the dead one's batch within
TAKEOVER_SECONDS, and at the end every read model equals a rebuild from the events.

Why the bound holds: a batch holds its projection's row in projection_tracking (FOR UPDATE SKIP
LOCKED) only inside its transaction. A killed process's sockets are closed by the kernel, so its
PostgreSQL backends read end-of-file and roll back at once, releasing the row; the other worker
tries every projection on each commit notification and at least every projection_poll_seconds
(0.5 s here, 1 s by default), and one batch is at most projection_batch_size events (well under
a second). Five seconds leaves room for a loaded CI machine. (A host that vanishes without closing
its sockets is bounded by TCP keepalive instead: docs/deployment.md.)"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from interfaces.bootstrap import Container, Engines
from interfaces.cli.backup import read_models
from tests.engines import TEST_ADMIN_TOKEN, EngineSet, fresh_database, make_settings

TAKEOVER_SECONDS = 5.0
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
AUTO = {"nodes": [{"id": "start", "type": "start", "name": "s"},
                  {"id": "note", "type": "system", "name": "n", "hook": "notify"},
                  {"id": "end", "type": "end", "name": "e"}],
        "edges": [{"source": "start", "target": "note"}, {"source": "note", "target": "end"}]}
# Which worker's transaction holds a projection's tracking row: the row's xmax is the locker's
# transaction id while its lock lasts, and pg_locks maps a live transaction id to a backend.
HOLDERS = ("SELECT t.name, t.position, a.application_name FROM projection_tracking t"
           " JOIN pg_locks l ON l.locktype = 'transactionid' AND l.transactionid = t.xmax AND l.granted"
           " JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name LIKE 'lf-worker-%'"
           " AND t.position < (SELECT coalesce(max(notification_id), 0) FROM ledgerflow_events)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fleet:
    """The processes of one deployment, each with its own data directory (chDB is per process)."""

    def __init__(self, root: Path, database_url: str, redis_url: str, suffix: str):
        self.root, self.procs, self.ports = root, {}, {}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERFLOW_")}
        self.env.update(LEDGERFLOW_MODE="test", LEDGERFLOW_DATABASE_URL=database_url, LEDGERFLOW_REDIS_URL=redis_url,
                        LEDGERFLOW_REDIS_PREFIX=f"lf-mp-{suffix}:", LEDGERFLOW_CLICKHOUSE_DATABASE=f"lf_mp_{suffix}",
                        LEDGERFLOW_BOOTSTRAP_ADMIN_TOKEN=TEST_ADMIN_TOKEN,
                        LEDGERFLOW_AUDIT_CHAIN_KEY="test-audit-chain-key-0123456789abcdef",
                        LEDGERFLOW_MASTER_KEY="test-master-key-0123456789abcdef",
                        LEDGERFLOW_RUN_WORKERS="false", LEDGERFLOW_PROJECTION_POLL_SECONDS="0.5",
                        LEDGERFLOW_ADDRESS_FREE_FAILURES="10000")

    def start(self, name: str, *args: str) -> None:
        env = {**self.env, "LEDGERFLOW_DATA_DIR": str(self.root / name), "PGAPPNAME": f"lf-{name}"}
        if args[0] == "serve":
            self.ports[name] = _free_port()
            env["LEDGERFLOW_PORT"] = str(self.ports[name])
        log = (self.root / f"{name}.log").open("w")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "interfaces.cli.main", *args], env=env,
                                            stdout=log, stderr=subprocess.STDOUT)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def wait_ready(self, names: list[str], timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        for name in names:
            while True:
                assert self.procs[name].poll() is None, f"{name} exited:\n{self.log(name)}"
                assert time.monotonic() < deadline, f"{name} not ready:\n{self.log(name)}"
                if name in self.ports:
                    try:
                        if httpx.get(f"{self.url(name)}/ready", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                elif "projection workers running" in self.log(name):
                    break
                time.sleep(0.2)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def fleet(engines: EngineSet, tmp_path: Path) -> Iterator[tuple[Fleet, str]]:
    if engines.mode != "server":
        pytest.skip("several processes share servers: needs LEDGERFLOW_TEST_DATABASE_URL and _REDIS_URL")
    with fresh_database(engines) as database_url:
        fleet = Fleet(tmp_path, database_url, engines.redis_url, os.urandom(4).hex())
        try:
            yield fleet, database_url
        finally:
            fleet.stop()


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def set_up_firm(api: str) -> str:
    """A business line, a channel with its intake token and a flow that runs to its end at once."""
    with httpx.Client(base_url=api, headers=ADMIN, timeout=30) as c:
        ok(c.post("/api/v1/access/business-lines", json={"code": "brokerage", "name": "B"}), 201)
        department = ok(c.post("/api/v1/access/departments", json={"code": "NET", "name": "网金",
                                                                      "kind": "online_finance"}), 201)["id"]
        ok(c.post("/api/v1/leads/channels", json={"code": "ths", "name": "同花顺", "channel_type": "tonghuashun",
                                                   "promotion_type": "同花顺", "business_line": "brokerage",
                                                   "department_id": department}), 201)
        token = ok(c.post("/api/v1/leads/channels/ths/token"))["token"]
        ok(c.post("/api/v1/forms/business-types", json={"code": "note", "name": "Note", "business_line": "brokerage",
                                                        "subjects": ["institution"]}), 201)
        ok(c.put("/api/v1/forms/business-types/note/drafts/institution",
                 json={"form": {"type": "object", "properties": {}}}))
        ok(c.post("/api/v1/forms/business-types/note/publish"))
        ok(c.post("/api/v1/flows/definitions", json={"key": "note", "name": "Note", "business_type": "note"}), 201)
        ok(c.put("/api/v1/flows/definitions/note/draft", json={"graph": AUTO}))
        ok(c.post("/api/v1/flows/definitions/note/publish"))
    return token


def load(api: str, token: str, offset: int, stop: threading.Event, errors: list[str]) -> None:
    """Leads and flow instances through one API until stopped."""
    n = 0
    with httpx.Client(base_url=api, timeout=30) as c:
        while not stop.is_set():
            n += 1
            leads = c.post("/api/v1/leads/intake", headers={"X-Channel-Token": token},
                           json={"leads": [{"phone": f"139{offset + n * 10 + i:08d}"} for i in range(5)]})
            flow = c.post("/api/v1/flows/instances", headers=ADMIN, json={
                "definition": "note", "subject": "institution", "title": f"t{offset}-{n}", "data": {}})
            errors.extend(r.text for r in (leads, flow) if r.status_code not in (200, 201))


def tables(database_url: str) -> dict[str, list[str]]:
    with psycopg.connect(database_url) as conn:
        return {t: sorted(repr(r) for r in conn.execute(SQL("SELECT * FROM {t}").format(t=Identifier(t))))
                for t in sorted(read_models() - {"projection_tracking", "projection_parked"})}


@contextmanager
def in_process(engines: EngineSet, database_url: str, data_dir: Path) -> Iterator[Container]:
    """The service in this process on the fleet's database (its ClickHouse: this process's chDB)."""
    container = Container.start(make_settings(data_dir),
                                engines=Engines(database_url, engines.redis_url, engines.clickhouse_url))
    try:
        yield container
    finally:
        container.clickhouse.command(f"DROP DATABASE IF EXISTS {container.clickhouse.db}")
        container.close()


def positions(database_url: str) -> tuple[dict[str, int], int]:
    with psycopg.connect(database_url) as conn:
        tracked = dict(conn.execute("SELECT name, position FROM projection_tracking").fetchall())
        head = conn.execute("SELECT coalesce(max(notification_id), 0) FROM ledgerflow_events").fetchone()
    return tracked, head[0] if head else 0


def test_a_killed_worker_s_projection_is_taken_over_and_every_read_model_equals_a_rebuild(
        fleet: tuple[Fleet, str], engines: EngineSet, tmp_path: Path):
    processes, database_url = fleet
    with in_process(engines, database_url, tmp_path / "schema"):
        pass  # the schema exists before the processes start, as after a first API start in production
    for name, args in (("api-1", ["serve"]), ("api-2", ["serve"]), ("worker-a", ["worker"]),
                       ("worker-b", ["worker"])):
        processes.start(name, *args)
    processes.wait_ready(["api-1", "api-2", "worker-a", "worker-b"])
    token = set_up_firm(processes.url("api-1"))  # an administrator's change waits for the workers' read models

    stop, errors = threading.Event(), []
    loaders = [threading.Thread(target=load, args=(processes.url(api), token, offset, stop, errors))
               for api, offset in (("api-1", 0), ("api-2", 5_000_000))]
    for t in loaders:
        t.start()
    try:
        caught = None
        deadline = time.monotonic() + 30
        with psycopg.connect(database_url, autocommit=True) as conn:
            while caught is None and time.monotonic() < deadline:
                caught = conn.execute(HOLDERS).fetchone()
                time.sleep(0.005)  # a batch under load lasts tens of milliseconds; leave the CPU to the fleet
        assert caught is not None, "no worker was seen holding a projection under load"
        projection, position_before, holder = caught
        victim = holder.removeprefix("lf-")
        processes.procs[victim].kill()  # SIGKILL, mid-batch
        killed_at = time.monotonic()
        head_at_kill = positions(database_url)[1]
        survivor = "worker-b" if victim == "worker-a" else "worker-a"

        taken_over = None
        while time.monotonic() - killed_at < 30:
            if positions(database_url)[0][projection] >= head_at_kill:
                taken_over = time.monotonic() - killed_at
                break
            time.sleep(0.05)
        assert taken_over is not None and taken_over <= TAKEOVER_SECONDS, (projection, taken_over)
        print(f"{survivor} took {projection} over from {victim} in {taken_over:.2f} s")
        time.sleep(1)  # more load with one worker left
    finally:
        stop.set()
        for t in loaders:
            t.join()
    assert errors == []
    assert processes.procs[survivor].poll() is None, processes.log(survivor)
    deadline = time.monotonic() + 60
    while True:
        tracked, head = positions(database_url)
        if min(tracked.values()) >= head:
            break
        assert time.monotonic() < deadline, f"{survivor} did not catch up: {tracked} / {head}"
        time.sleep(0.2)
    with psycopg.connect(database_url) as conn:  # the dead worker left nothing behind in PostgreSQL
        assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            (f"lf-{victim}",)).fetchone() == (0,)
    processes.stop()

    served = tables(database_url)
    with in_process(engines, database_url, tmp_path / "rebuild") as container:
        for runner in container.runners.values():
            if runner.projection.kind == "postgres":
                runner.reset()
                runner.catch_up()
    rebuilt = tables(database_url)
    assert served["leads_leads"] and served["flows_instances"] and position_before < head_at_kill
    assert [t for t in served if served[t] != rebuilt[t]] == []
