"""The scheduler: a Redis sorted set of timers (pause ends, SLA warnings and deadlines; later lead recycling),
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
    def member(kind: str, instance_id: UUID | str, key: str) -> str:
        return f"{kind}|{instance_id}|{key}"

    def schedule(self, instance_id: UUID, key: str, due: datetime, kind: str = "pause") -> None:
        if not self.supervisor.available:
            return  # the worker falls back to PostgreSQL; a rebuild restores the queue
        try:
            member = self.member(kind, instance_id, key)
            self.supervisor.client.zadd(self.supervisor.key(DUE), {member: due.timestamp()})
        except redis.RedisError:
            self.supervisor.available = False

    def rebuilder(self, timers: Callable[[], list[dict[str, Any]]]) -> Callable[[redis.Redis], None]:
        def rebuild(client: redis.Redis) -> None:
            key = self.supervisor.key(DUE)
            rows = timers()
            pipe = client.pipeline()
            pipe.delete(key)
            if rows:
                pipe.zadd(key, {self.member(r["kind"], r["instance_id"], r["key"]): r["due_at"].timestamp()
                                for r in rows})
            pipe.execute()
        return rebuild

    def due(self, now: datetime, limit: int = 100) -> list[tuple[str, str, str]] | None:
        """Due members, or None when Redis cannot answer."""
        if not self.supervisor.available:
            return None
        try:
            members = self.supervisor.client.zrangebyscore(self.supervisor.key(DUE), "-inf", now.timestamp(),
                                                           start=0, num=limit)
        except redis.RedisError:
            return None
        return [tuple(m.decode().split("|", 2)) for m in members]  # type: ignore[misc]

    def done(self, kind: str, instance_id: str, key: str) -> None:
        with contextlib.suppress(redis.RedisError):  # the item stays and fires as "gone" next time
            self.supervisor.client.zrem(self.supervisor.key(DUE), self.member(kind, instance_id, key))


class Scheduler:
    def __init__(self, queue: DueQueue, flows: Any, queries: Any, poll_seconds: float = 1.0):
        self.queue, self.flows, self.queries = queue, flows, queries
        self.poll_seconds = poll_seconds
        self.fired = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        """Fire every timer due now (pause ends, SLA deadlines); returns how many took effect."""
        now = self.flows.clock()
        items = self.queue.due(now)
        from_redis = items is not None
        if items is None:
            items = [(r["kind"], str(r["instance_id"]), r["key"]) for r in self.queries.due(now)]
        fired = 0
        ctx = CommandContext.system("scheduler")
        for kind, instance_id, key in items:
            try:
                if kind == "sla":
                    outcome = self.flows.check_sla(ctx, UUID(instance_id), key)
                elif kind == "sla_warn":
                    outcome = self.flows.warn_sla(ctx, UUID(instance_id), key)
                else:
                    outcome = self.flows.end_pause(ctx, UUID(instance_id), key)
            except DomainError as exc:  # a concurrent scheduler won (409) or the instance is gone
                log.info("scheduler: %s %s/%s not fired: %s", kind, instance_id, key, exc)
                outcome = "gone"
            if outcome in ("ended", "breached", "warned"):
                fired += 1
            if from_redis and outcome != "not_due":
                self.queue.done(kind, instance_id, key)
        self.fired += fired
        return fired

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
