"""Read access to PostgreSQL read models (parameterised statements only)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventsourcing.postgres import PostgresDatastore


class ReadModelDb:
    def __init__(self, datastore: PostgresDatastore):
        self.datastore = datastore

    def fetch_all(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = (), *,
                  prepare: bool | None = None) -> list[dict[str, Any]]:
        """``prepare=False``: planned for these values on every call (never a cached generic plan)."""
        with self.datastore.get_connection() as conn:
            return conn.execute(sql, params, prepare=prepare).fetchall()

    def fetch_one(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> dict[str, Any] | None:
        rows = self.fetch_all(sql, params)
        return rows[0] if rows else None
