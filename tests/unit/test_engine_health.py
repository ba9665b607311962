"""An outage is two log lines: one WARNING when an engine goes, one when it comes back,
however many components notice it."""
from __future__ import annotations

import http.server
import logging
import threading

from infrastructure.engines.clickhouse import http_ping
from infrastructure.engines.health import EngineHealth, Watch
from infrastructure.redis.supervisor import RedisSupervisor


def _warnings(caplog, text):
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


def test_a_component_clearing_redis_availability_logs_the_outage_once_and_its_end_once(caplog):
    caplog.set_level(logging.INFO)
    supervisor = RedisSupervisor("redis://127.0.0.1:9/0", "test:")  # never connected here
    supervisor.available = True  # as the first successful check leaves it
    assert not _warnings(caplog, "Redis")

    for _ in range(3):  # the due queue, the progress board and the throttle each meet the failure
        supervisor.available = False
    assert not supervisor.available and supervisor.health.describe() == "down"
    supervisor.available = True
    supervisor.available = True

    assert len(_warnings(caplog, "Redis unavailable")) == 1
    assert len(_warnings(caplog, "Redis available again")) == 1
    assert supervisor.health.describe() == "ok"


class _Ping(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ping" else 404)
        self.end_headers()
        self.wfile.write(b"Ok.\n")

    def log_message(self, *args):
        pass


def _clickhouse_server(port: int = 0) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Ping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_clickhouse_server_that_stops_answering_its_ping_is_one_warning_going_and_one_coming_back(caplog):
    caplog.set_level(logging.INFO)
    server = _clickhouse_server()
    port = server.server_address[1]
    health = EngineHealth("ClickHouse")
    watch = Watch(health, lambda: http_ping(f"http://default:secret@127.0.0.1:{port}/analytics", 0.5), 60)
    assert watch.check() and health.up

    server.shutdown()
    server.server_close()
    assert not watch.check() and not watch.check()
    assert health.describe() == "down"
    server = _clickhouse_server(port)
    try:
        assert watch.check() and watch.check()
    finally:
        server.shutdown()
        server.server_close()
    assert len(_warnings(caplog, "ClickHouse unavailable")) == 1
    assert len(_warnings(caplog, "ClickHouse available again")) == 1


def test_one_failed_probe_is_not_an_outage_and_does_not_break_the_connections_in_use():
    answers = iter([None, "timeout", None, "timeout", "timeout"])
    interrupted: list[bool] = []
    watch = Watch(EngineHealth("PostgreSQL"), lambda: next(answers), 60, on_down=lambda: interrupted.append(True))

    assert watch.check() and watch.health.up
    assert not watch.check() and watch.health.up and not interrupted  # one slow answer
    assert watch.check() and watch.health.up
    watch.check()
    assert watch.health.up and not interrupted
    watch.check()  # the second failure in a row
    assert not watch.health.up and interrupted == [True]
