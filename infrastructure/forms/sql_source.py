"""Runs checked SQL data sources: read-only transaction, statement timeout, row limit, and a
Redis cache with a TTL (best effort: Redis down means no cache, never an error)."""
from __future__ import annotations

import hashlib
import logging
from typing import Any

import orjson
import psycopg
import redis

from application.forms.engine.sql_guard import CheckedSql, DataSourceLimitError
from infrastructure.redis.supervisor import RedisSupervisor

log = logging.getLogger(__name__)


class SqlSourceRunner:
    def __init__(self, connections: dict[str, Any], supervisor: RedisSupervisor | None):
        """``connections``: name -> a PostgresDatastore (pooled) the data sources may read."""
        self.connections = connections
        self.redis = supervisor

    def run(self, key: str, checked: CheckedSql, params: dict[str, Any], *, connection: str, timeout_ms: int,
            row_limit: int, cache_seconds: int) -> tuple[list[dict[str, Any]], bool]:
        """Rows and whether they came from the cache."""
        if connection not in self.connections:
            raise DataSourceLimitError(f"unknown connection {connection!r}")
        missing = [p for p in checked.params if p not in params]
        if missing:
            raise DataSourceLimitError(f"missing parameters: {', '.join(missing)}")
        cache_key = None
        if cache_seconds and self.redis is not None:
            digest = hashlib.sha256(orjson.dumps([checked.source, {p: params[p] for p in checked.params}],
                                                 default=str)).hexdigest()
            cache_key = self.redis.key(f"ds:{key}:{digest}")
            cached = self._cache_get(cache_key)
            if cached is not None:
                return cached, True
        rows = self._query(checked, params, connection, timeout_ms, row_limit)
        if cache_key:
            self._cache_put(cache_key, rows, cache_seconds)
        return rows, False

    def _query(self, checked: CheckedSql, params: dict[str, Any], connection: str, timeout_ms: int,
               row_limit: int) -> list[dict[str, Any]]:
        datastore = self.connections[connection]
        with datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute("SELECT set_config('statement_timeout', %s, true)", (f"{int(timeout_ms)}ms",))
            try:
                cur.execute(checked.psycopg_sql, {p: params[p] for p in checked.params})
            except psycopg.errors.QueryCanceled:
                raise DataSourceLimitError(f"the query ran longer than {timeout_ms} ms and was stopped") from None
            except psycopg.errors.ReadOnlySqlTransaction:
                raise DataSourceLimitError("the query tried to write") from None
            except psycopg.Error as exc:
                raise DataSourceLimitError(f"the query failed: {exc.diag.message_primary or exc}") from None
            rows = cur.fetchmany(row_limit + 1)
            if len(rows) > row_limit:
                raise DataSourceLimitError(f"the query returned more than {row_limit} rows")
            return [dict(r) for r in rows]

    def _cache_get(self, key: str) -> list[dict[str, Any]] | None:
        if not self.redis or not self.redis.available:
            return None
        try:
            raw = self.redis.client.get(key)
        except redis.RedisError:
            return None
        return orjson.loads(raw) if raw else None

    def _cache_put(self, key: str, rows: list[dict[str, Any]], seconds: int) -> None:
        if not self.redis or not self.redis.available:
            return
        try:
            self.redis.client.set(key, orjson.dumps(rows, default=str), ex=seconds)
        except redis.RedisError:
            log.info("data-source cache unavailable")
