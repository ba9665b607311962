"""Fail fast, recover fast (ADR 0026): with PostgreSQL cut off by a proxy the test controls, a
request answers 503 `database_unavailable` within the bound and is never written later,
readiness answers at once, the first request after the database is back succeeds within 2 s,
and each outage is one warning going and one coming back, without a traceback."""
from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from interfaces.api.app import create_app
from interfaces.bootstrap import Container, Engines
from tests.engines import ADMIN_HEADERS, fresh_database, make_settings
from tests.live import eventually, served
from tests.tcp_proxy import TcpProxy

TIMEOUT = 2.0  # LEDGERFLOW_DB_TIMEOUT_SECONDS of this module: the bound a 503 must meet
SLACK = 0.5  # for a loaded CI machine: the answer's own way through the stack


@dataclass
class Stack:
    container: Container
    port: int
    pg: TcpProxy
    redis: TcpProxy
    admin_url: str  # the database behind the proxy, for checking what was written

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any, float]:
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={**ADMIN_HEADERS, "Content-Type": "application/json", **(headers or {})})
            response = conn.getresponse()
            payload = json.loads(response.read() or b"null")
            return response.status, dict(response.getheaders()), payload, time.monotonic() - started
        finally:
            conn.close()

    def create(self, code: str) -> tuple[int, dict[str, str], Any, float]:
        """A command that needs no read model (an access command waits for authentication's)."""
        return self.call("POST", "/api/v1/forms/business-types",
                         {"code": code, "name": code, "business_line": "brokerage", "subjects": ["individual"]})

    def stored(self, marker: str) -> int:
        """Events whose stored state holds the marker, read past the proxy."""
        table = self.container.settings.events_table
        with psycopg.connect(self.admin_url) as conn:
            row = conn.execute(psycopg.sql.SQL("SELECT count(*) FROM {} WHERE position(%s::bytea in state) > 0")
                               .format(psycopg.sql.Identifier(table)), (marker.encode(),)).fetchone()
        assert row is not None
        return int(row[0])


def _unix_socket(url: str) -> str | tuple[str, int]:
    params = conninfo_to_dict(url)
    host, port = str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432)
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)


@pytest.fixture(scope="module")
def stack(engines, tmp_path_factory) -> Iterator[Stack]:
    if engines.mode != "embedded":
        pytest.skip("the proxy stands in front of either engine alike: embedded only")
    with fresh_database(engines) as database_url:
        pg = TcpProxy(_unix_socket(database_url))
        redis_host, redis_port = engines.redis_url.split("//")[1].split("/")[0].split(":")
        redis = TcpProxy((redis_host, int(redis_port)))
        proxied = make_conninfo(database_url, host="127.0.0.1", port=str(pg.port))
        settings = make_settings(tmp_path_factory.mktemp("outages"), db_timeout_seconds=TIMEOUT,
                                 engine_check_seconds=0.2, redis_check_seconds=0.2)
        container = Container.start(settings, engines=Engines(proxied, f"redis://127.0.0.1:{redis.port}/0",
                                                              engines.clickhouse_url), workers=True)
        try:
            with served(create_app(container)) as port:
                stack = Stack(container, port, pg, redis, database_url)
                line = stack.call("POST", "/api/v1/access/business-lines", {"code": "brokerage", "name": "B"})
                assert line[0] == 201, line
                yield stack
        finally:
            if container.workers:
                container.workers.stop()
            pg.restore()
            redis.restore()
            container.clickhouse.command(f"DROP DATABASE IF EXISTS {container.clickhouse.db}")
            container.close()
            pg.close()
            redis.close()


def _code(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _lines(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.exc_text], "an expected outage logged a traceback"
    assert "Traceback" not in caplog.text


def _outage(stack: Stack, caplog: pytest.LogCaptureFixture, cut: str) -> None:
    caplog.set_level(logging.INFO)
    marker = _code("gone")
    assert stack.create(_code("a"))[0] == 201  # the pool holds live connections

    getattr(stack.pg, cut)()
    status, headers, problem, seconds = stack.create(marker)
    assert status == 503, problem
    assert problem["code"] == "database_unavailable" and headers["content-type"] == "application/problem+json"
    assert int(headers["retry-after"]) >= 1
    assert seconds < TIMEOUT + SLACK, f"answered after {seconds:.2f} s"

    # Under load: writers keep coming while readiness is asked.
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            stack.create(_code("l"))

    writers = [threading.Thread(target=load, daemon=True) for _ in range(8)]
    for w in writers:
        w.start()
    try:
        time.sleep(0.3)
        ready_status, _, readiness, ready_seconds = stack.call("GET", "/ready")
        assert ready_status == 503 and readiness["checks"]["postgres"].startswith("down")
        assert ready_seconds < 1.0, f"/ready took {ready_seconds:.2f} s"
    finally:
        stop.set()
        for w in writers:
            w.join(timeout=10)

    stack.pg.restore()
    back = time.monotonic()
    while True:
        status, _, created, _ = stack.create(_code("b"))
        if status == 201 or time.monotonic() - back > 5:
            break
        time.sleep(0.05)
    recovered = time.monotonic() - back
    assert status == 201, created
    assert recovered < 2.0, f"first success {recovered:.2f} s after the database returned"

    time.sleep(TIMEOUT)  # long enough for anything still held to have been written
    assert stack.stored(marker) == 0, "the request answered 503 was written later"
    assert len(_lines(caplog, "PostgreSQL unavailable")) == 1
    assert len(_lines(caplog, "PostgreSQL available again")) == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
            and not r.getMessage().startswith("PostgreSQL ")] == [], "an outage is two warnings, no more"
    _no_traceback(caplog)


def test_a_refused_database_answers_503_in_time_writes_nothing_later_and_recovers_within_2_s(stack, caplog):
    _outage(stack, caplog, "refuse")


def test_a_silent_database_answers_503_in_time_writes_nothing_later_and_recovers_within_2_s(stack, caplog):
    _outage(stack, caplog, "blackhole")


@pytest.mark.parametrize("cut", ["refuse", "blackhole"])
def test_a_redis_outage_is_one_warning_going_and_one_coming_back_and_commands_go_on(stack, caplog, cut):
    caplog.set_level(logging.INFO)
    getattr(stack.redis, cut)()
    assert eventually(lambda: stack.call("GET", "/ready")[2]["checks"]["redis"] != "ok")
    assert stack.create(_code("r"))[0] == 201
    stack.redis.restore()
    assert eventually(lambda: stack.call("GET", "/ready")[2]["status"] == "ok")
    assert len(_lines(caplog, "Redis unavailable")) == 1
    assert len(_lines(caplog, "Redis available again")) == 1
    _no_traceback(caplog)


def test_a_write_queued_behind_a_stuck_commit_gives_up_in_time_and_is_never_written(stack):
    from eventsourcing.persistence import StoredEvent

    from infrastructure.engines.postgres import DatabaseUnavailable

    recorder = stack.container.store.recorder
    marker = _code("queued")
    with recorder._cv:
        recorder._leader = True  # a leader whose commit does not come back
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            recorder.insert_events([StoredEvent(originator_id=uuid.uuid4(), originator_version=1,
                                                topic="tests:Queued", state=json.dumps({"m": marker}).encode())])
        assert TIMEOUT <= time.monotonic() - started < TIMEOUT + SLACK
        assert not recorder._queue
    finally:
        with recorder._cv:
            recorder._leader = False
            recorder._cv.notify_all()
    assert stack.create(_code("next"))[0] == 201  # the next leader's batch
    assert stack.stored(marker) == 0


def test_the_probe_answers_in_a_process_holding_more_than_a_thousand_descriptors(engines):
    # select() refuses descriptors above 1023; a busy process (many pooled connections, files,
    # threads) gets there, and the probe must not then count a healthy database down.
    from infrastructure.engines.postgres import PostgresProbe

    held = [os.open("/dev/null", os.O_RDONLY) for _ in range(1100)]
    try:
        probe = PostgresProbe(conninfo_to_dict(engines.admin_database_url), timeout=5)
        assert probe() is None
        probe.close()
    finally:
        for fd in held:
            os.close(fd)
