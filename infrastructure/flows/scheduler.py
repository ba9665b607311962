"""The scheduler: a Redis sorted set of timers (pause ends, SLA warnings and deadlines, call activities
left to re-drive (父子流程: a parent to tell, a child to cancel); later lead recycling),
derived from events and rebuilt from the read model at start and whenever Redis comes back
empty. A worker fires due items as commands; firing is idempotent (the aggregate ends a pause
once), and when Redis is down the worker reads the due items from PostgreSQL instead."""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import redis

from domain.shared.context import CommandContext
from domain.shared.errors import ConcurrencyConflictError, DomainError
from infrastructure.redis.supervisor import RedisSupervisor

log = logging.getLogger(__name__)

DUE = "flows:due"
CALLS = ("call", "call_cancel")


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
        return [_item(m) for m in members]

    def done(self, kind: str, instance_id: str, key: str, fired_at: datetime) -> None:
        """Drop a fired item — unless firing it scheduled the same item again for later (a timeout's
        next step), which must stay."""
        member, queue = self.member(kind, instance_id, key), self.supervisor.key(DUE)
        with contextlib.suppress(redis.RedisError):  # the item stays and fires as "gone" next time
            score = self.supervisor.client.zscore(queue, member)
            if score is not None and score <= fired_at.timestamp():
                self.supervisor.client.zrem(queue, member)


def _item(member: object) -> tuple[str, str, str]:
    """A queue member (``kind|instance_id|key``; bytes, as Redis answers without withscores) as
    (kind, instance_id, key)."""
    kind, instance_id, key = (member.decode() if isinstance(member, bytes) else str(member)).split("|", 2)
    return kind, instance_id, key


class Scheduler:
    """Fires due timers. Redis answers "what is due" cheaply; PostgreSQL (the read model) is the
    truth, read instead of Redis while Redis is down and also every ``reconcile_seconds``, so a
    timer whose Redis write was skipped (a blip, another process) still fires. A timer whose
    command fails (say nobody can take the next node yet) is not dropped: it is retried with a
    growing delay, logged each time, and never blocks the timers behind it."""

    MAX_RETRY_SECONDS = 3600.0

    def __init__(self, queue: DueQueue, flows: Any, queries: Any, poll_seconds: float = 1.0,
                 reconcile_seconds: float = 60.0):
        self.queue, self.flows, self.queries = queue, flows, queries
        self.poll_seconds = poll_seconds
        self.reconcile_seconds = reconcile_seconds
        self.fired = 0
        self.failures = 0
        self.lost = 0  # timers another process fired first (a lost save, nothing recorded twice)
        self._retry_at: dict[tuple[str, str, str], tuple[float, float]] = {}  # item -> (not before, delay)
        self._reconciled_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _due_items(self, now: datetime) -> tuple[list[tuple[str, str, str]], bool]:
        items = self.queue.due(now)
        from_redis = items is not None
        clock = time.monotonic()
        if items is None or self._reconciled_at is None or clock - self._reconciled_at >= self.reconcile_seconds:
            self._reconciled_at = clock
            found = [(r["kind"], str(r["instance_id"]), r["key"]) for r in self.queries.due(now, limit=500)]
            items = list(dict.fromkeys([*(items or []), *found]))
        return items, from_redis

    def tick(self) -> int:
        """Fire every timer due now (pause ends, SLA warnings and deadlines); returns how many took effect."""
        now = self.flows.clock()
        items, from_redis = self._due_items(now)
        fired = 0
        ctx = CommandContext.system("scheduler")
        sla = CommandContext.system("sla")  # SLA steps are recorded as system:sla (the rule names itself)
        rules = CommandContext.system("rules")
        hooks = CommandContext.system("hooks")
        clock = time.monotonic()
        for item in items:
            kind, instance_id, key = item
            if self._retry_at.get(item, (0.0, 0.0))[0] > clock:
                continue
            try:
                if kind in ("sla", "sla_warn", "timeout"):
                    outcome = self.flows.fire_sla(sla, UUID(instance_id), key, kind)
                elif kind == "rule":  # a task_overdue IF-THEN rule (application/flows/rules.py)
                    outcome = self.flows.fire_rule(rules, UUID(instance_id), key)
                elif kind == "system":  # a system node's hook to run (application/flows/system_tasks.py)
                    outcome = self.flows.run_system_task(hooks, UUID(instance_id), key)
                elif kind in CALLS:  # 父子流程 left over: a parent to resume, a child to cancel
                    outcome = self.flows.fire_call(ctx, kind, UUID(instance_id), UUID(key))
                else:
                    outcome = self.flows.end_pause(ctx, UUID(instance_id), key)
            except ConcurrencyConflictError:
                # Another process (a second scheduler, a user) saved the instance first; its save
                # queued every timer the instance still has, at its own time. Queueing this one
                # again "in a few seconds" would pull the next step forward and fire it, not due,
                # on every tick until its time.
                self._retry_at.pop(item, None)
                self.lost += 1
                continue
            except Exception as exc:  # one failing timer must not stop the others
                self._failed(item, exc, from_redis, now)
                continue
            self._retry_at.pop(item, None)
            if outcome in ("ended", "breached", "warned", "reminded", "escalated", "acted", "resumed", "rejected",
                           "cancelled", "fired", "completed", "waiting"):
                fired += 1
            if from_redis and outcome != "not_due":
                self.queue.done(kind, instance_id, key, now)
        self.fired += fired
        return fired

    def _failed(self, item: tuple[str, str, str], exc: Exception, from_redis: bool, now: datetime) -> None:
        self.failures += 1
        delay = min(self._retry_at.get(item, (0.0, self.poll_seconds))[1] * 2, self.MAX_RETRY_SECONDS)
        self._retry_at[item] = (time.monotonic() + delay, delay)
        kind, instance_id, key = item
        level = logging.INFO if isinstance(exc, DomainError) else logging.ERROR
        log.log(level, "scheduler: %s %s/%s not fired (%s: %s); retrying in %.0fs", kind, instance_id, key,
                type(exc).__name__, getattr(exc, "message", exc), delay, exc_info=level == logging.ERROR)
        if from_redis:  # keep it in the queue, due again after the delay
            self.queue.schedule(UUID(instance_id), key, now + timedelta(seconds=delay), kind)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.tick()
            except Exception:  # the scheduler must outlive one bad item
                log.exception("scheduler tick failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
