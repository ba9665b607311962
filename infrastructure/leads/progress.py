"""Import progress in Redis (a courtesy for pollers: derived, kept a day, never the only copy of
anything — the import's rows are events), and how far the leads read model has come."""
from __future__ import annotations

import contextlib
from typing import Any

import orjson
import redis

from infrastructure.redis.supervisor import RedisSupervisor

KEEP_SECONDS = 86_400


class ImportProgressBoard:
    def __init__(self, supervisor: RedisSupervisor):
        self.supervisor = supervisor

    def _key(self, import_id: str) -> str:
        return self.supervisor.key(f"leads:import:{import_id}")

    def publish(self, report: dict[str, Any]) -> None:
        if not self.supervisor.available:
            return
        with contextlib.suppress(redis.RedisError):  # progress is a courtesy; the import goes on
            self.supervisor.client.set(self._key(report["import_id"]), orjson.dumps(report), ex=KEEP_SECONDS)

    def get(self, import_id: str) -> dict[str, Any] | None:
        if not self.supervisor.available:
            return None
        try:
            raw = self.supervisor.client.get(self._key(import_id))
        except redis.RedisError:
            return None
        return orjson.loads(raw) if raw is not None else None


class LeadsReadProgress:
    """The leads application's ``ReadProgress`` port over the projection progress board."""

    def __init__(self, board: Any, timeout: float, projection: str = "leads.leads"):
        self.board, self.timeout, self.projection = board, timeout, projection

    def reached(self, position: int) -> bool:
        return bool(self.board.wait_for([self.projection], position, self.timeout))
