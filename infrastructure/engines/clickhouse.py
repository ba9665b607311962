"""ClickHouse through clickhouse-connect: an HTTP server, or in-process chDB (chdb:///dir)."""
from __future__ import annotations

import threading
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect

from infrastructure.engines.health import EngineHealth, Watch


class ClickHouse:
    def __init__(self, url: str, database: str):
        self.url = url
        self.database = database
        self.embedded = url.startswith("chdb://")
        if self.embedded:
            path = urlparse(url).path
            # chDB is one engine per process; the lock keeps its client single-threaded.
            self.client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
        else:
            self.client = clickhouse_connect.get_client(dsn=url)
        self._lock = threading.Lock()
        self.health = EngineHealth("ClickHouse")
        self._watch: Watch | None = None
        self.command(f"CREATE DATABASE IF NOT EXISTS {self._ident(database)}")

    @staticmethod
    def _ident(name: str) -> str:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"invalid ClickHouse identifier {name!r}")
        return f"`{name}`"

    @property
    def db(self) -> str:
        return self._ident(self.database)

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        with self._lock:
            return self.client.command(sql, parameters=parameters)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        with self._lock:
            return self.client.query(sql, parameters=parameters).result_rows

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str], *,
               dedup_token: str) -> None:
        with self._lock:
            self.client.insert(f"{self.database}.{table}", list(rows), column_names=list(columns),
                               settings={"insert_deduplication_token": dedup_token})

    def ping(self, timeout: float = 1.0) -> str | None:
        """None when ClickHouse answers within ``timeout``, else why not. A server is asked on
        its /ping endpoint (not through the shared client, whose timeouts suit long queries);
        the in-process engine counts as up while another thread holds it."""
        if not self.embedded:
            return http_ping(self.url, timeout)
        if not self._lock.acquire(blocking=False):
            return None  # busy answering a query: up, and the probe must not queue behind it
        try:
            return None if self.client.query("SELECT 1").result_rows == [(1,)] else "unexpected answer"
        except Exception as exc:  # readiness reports, it does not raise
            return type(exc).__name__
        finally:
            self._lock.release()

    def watch(self, interval: float, timeout: float) -> None:
        self._watch = Watch(self.health, lambda: self.ping(timeout), interval)
        self._watch.start()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()
        if not self.embedded:
            self.client.close()


def http_ping(url: str, timeout: float) -> str | None:
    """None when the ClickHouse server at ``url`` answers its /ping within ``timeout``, else why not."""
    parts = urlparse(url)
    scheme = "https" if parts.scheme in ("https", "clickhouses") else "http"
    try:
        with urllib.request.urlopen(f"{scheme}://{parts.hostname}:{parts.port or 8123}/ping",
                                    timeout=timeout) as answer:
            return None if answer.status == 200 else f"HTTP {answer.status}"
    except OSError as exc:
        return type(exc).__name__
