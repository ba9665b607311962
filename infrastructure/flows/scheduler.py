"""The scheduler: a Redis sorted set of due pauses (and later SLA warnings, lead recycling),
derived from events and rebuilt from the read model at start and whenever Redis comes back
empty. A worker fires due items as commands; firing is idempotent (the aggregate ends a pause
once), and when Redis is down the worker reads the due items from PostgreSQL instead."""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import redis

from domain.shared.context import CommandContext
from domain.shared.errors import DomainError
from infrastructure.redis.supervisor import RedisSupervisor

log = logging.getLogger(__name__)

DUE = "flows:due"


class DueQueue:
    def __init__(self, supervisor: RedisSupervisor):
        self.supervisor = supervisor

    @staticmethod
    def member(instance_id: UUID | str, token: str) -> str:
        return f"{instance_id}|{token}"

    def schedule(self, instance_id: UUID, token: str, due: datetime) -> None:
        if not self.supervisor.available:
            return  # the worker falls back to PostgreSQL; a rebuild restores the queue
        try:
            self.supervisor.client.zadd(self.supervisor.key(DUE), {self.member(instance_id, token): due.timestamp()})
        except redis.RedisError:
            self.supervisor.available = False

    def rebuilder(self, pauses: Callable[[], list[dict[str, Any]]]) -> Callable[[redis.Redis], None]:
        def rebuild(client: redis.Redis) -> None:
            key = self.supervisor.key(DUE)
            rows = pauses()
            pipe = client.pipeline()
            pipe.delete(key)
            if rows:
                pipe.zadd(key, {self.member(r["instance_id"], r["token"]): r["due_at"].timestamp() for r in rows})
            pipe.execute()
        return rebuild

    def due(self, now: datetime, limit: int = 100) -> list[tuple[str, str]] | None:
        """Due members, or None when Redis cannot answer."""
        if not self.supervisor.available:
            return None
        try:
            members = self.supervisor.client.zrangebyscore(self.supervisor.key(DUE), "-inf", now.timestamp(),
                                                           start=0, num=limit)
        except redis.RedisError:
            return None
        return [tuple(m.decode().split("|", 1)) for m in members]  # type: ignore[misc]

    def done(self, instance_id: str, token: str) -> None:
        with contextlib.suppress(redis.RedisError):  # the item stays and fires as "gone" next time
            self.supervisor.client.zrem(self.supervisor.key(DUE), self.member(instance_id, token))


class Scheduler:
    def __init__(self, queue: DueQueue, flows: Any, queries: Any, poll_seconds: float = 1.0):
        self.queue, self.flows, self.queries = queue, flows, queries
        self.poll_seconds = poll_seconds
        self.fired = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        """Fire everything due now; returns how many pauses ended."""
        now = self.flows.clock()
        items = self.queue.due(now)
        from_redis = items is not None
        if items is None:
            items = [(str(r["instance_id"]), r["token"]) for r in self.queries.due(now)]
        ended = 0
        for instance_id, token in items:
            try:
                outcome = self.flows.end_pause(CommandContext.system("scheduler"), UUID(instance_id), token)
            except DomainError as exc:  # a concurrent scheduler won (409) or the instance is gone
                log.info("scheduler: %s/%s not fired: %s", instance_id, token, exc)
                outcome = "gone"
            if outcome == "ended":
                ended += 1
            if from_redis and outcome != "not_due":
                self.queue.done(instance_id, token)
        self.fired += ended
        return ended

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the scheduler must outlive one bad item
                log.exception("scheduler tick failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
