"""ClickHouse through clickhouse-connect: an HTTP server, or in-process chDB (chdb:///dir)."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect


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

    def ping(self) -> bool:
        try:
            return self.query("SELECT 1") == [(1,)]
        except Exception:  # readiness reports, it does not raise
            return False

    def close(self) -> None:
        if not self.embedded:
            self.client.close()
