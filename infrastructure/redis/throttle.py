"""Failure throttle for logins and bearer tokens: a growing delay instead of a lockout.

Each subject (a login name, a client address) may fail ``free`` times within the window;
after that every further failure makes the subject wait 1, 2, 4, ... seconds (capped) before
the next attempt is even considered. Nobody is ever locked out for good, so an anonymous
client cannot lock a real user out: once the delay has passed the right password works
(ASVS V2.2.1). State lives in Redis (one hash per subject, updated by a Lua script so
parallel failures all count, shared by every API process); while Redis is down the same
state is kept in process memory, so the throttle holds per process instead of failing open.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from infrastructure.redis.supervisor import RedisSupervisor

log = logging.getLogger(__name__)

# KEYS[1] = subject hash; ARGV = now, free, max_delay, window. Returns the wait now imposed.
_FAIL = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local over = failures - tonumber(ARGV[2])
local wait = 0
if over > 0 then
  wait = math.min(2 ^ (over - 1), tonumber(ARGV[3]))
  redis.call('HSET', KEYS[1], 'until', tonumber(ARGV[1]) + wait)
end
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[4]) + wait))
return tostring(wait)
"""


@dataclass(frozen=True)
class Rule:
    prefix: str       # e.g. "login", "addr"
    free: int         # failures allowed before the delay applies


class FailureThrottle:
    def __init__(self, supervisor: RedisSupervisor, *, max_delay: float, window: float,
                 clock: Callable[[], float] = time.time):
        self.supervisor = supervisor
        self.max_delay, self.window, self.clock = max_delay, window, clock
        self._fail = supervisor.client.register_script(_FAIL)
        self._local: dict[str, tuple[int, float, float]] = {}   # key -> (failures, until, expires)
        self._lock = threading.Lock()

    def _key(self, rule: Rule, subject: str) -> str:
        return self.supervisor.key(f"throttle:{rule.prefix}:{subject}")

    def retry_after(self, checks: list[tuple[Rule, str]]) -> int:
        """Seconds the caller must still wait before an attempt on any of these subjects (0 = go)."""
        now = self.clock()
        wait = 0.0
        for rule, subject in checks:
            until = self._until(self._key(rule, subject), now)
            wait = max(wait, until - now)
        return math.ceil(wait) if wait > 0 else 0

    def fail(self, checks: list[tuple[Rule, str]]) -> None:
        now = self.clock()
        for rule, subject in checks:
            key = self._key(rule, subject)
            wait = self._record(key, rule, now)
            if wait:
                # The subject may hold a login name (or a password typed into it): log a digest.
                digest = hashlib.sha256(subject.encode("utf-8", "replace")).hexdigest()[:12]
                log.warning("throttle: %s:%s failed again, next attempt in %.0fs", rule.prefix, digest, wait)

    def reset(self, rule: Rule, subject: str) -> None:
        key = self._key(rule, subject)
        with self._lock:
            self._local.pop(key, None)
        if self.supervisor.available:
            with contextlib.suppress(redis.RedisError):
                self.supervisor.client.delete(key)

    def forget(self, rule: Rule, subject_prefix: str) -> None:
        """Forget every subject of a rule that starts with a prefix (an administrator lifting a
        login name's delay for every address). The prefix is escaped for Redis' glob matching."""
        prefix = self._key(rule, subject_prefix)
        with self._lock:
            for key in [k for k in self._local if k.startswith(prefix)]:
                del self._local[key]
        if self.supervisor.available:
            pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
            with contextlib.suppress(redis.RedisError):
                for key in self.supervisor.client.scan_iter(match=pattern, count=500):
                    self.supervisor.client.delete(key)

    # -- storage: Redis, else process memory ------------------------------------------------------
    def _until(self, key: str, now: float) -> float:
        if self.supervisor.available:
            try:
                raw = self.supervisor.client.hget(key, "until")
                remote = float(raw) if raw is not None else 0.0
                return max(remote, self._local_until(key, now))
            except redis.RedisError:
                pass
        return self._local_until(key, now)

    def _local_until(self, key: str, now: float) -> float:
        with self._lock:
            entry = self._local.get(key)
            if entry is None or entry[2] < now:
                self._local.pop(key, None)
                return 0.0
            return entry[1]

    def _record(self, key: str, rule: Rule, now: float) -> float:
        if self.supervisor.available:
            try:
                return float(self._fail(keys=[key], args=[now, rule.free, self.max_delay, self.window]))
            except redis.RedisError:
                pass
        with self._lock:
            failures, until, expires = self._local.get(key, (0, 0.0, 0.0))
            if expires < now:
                failures, until = 0, 0.0
            failures += 1
            over = failures - rule.free
            wait = min(2.0 ** (over - 1), self.max_delay) if over > 0 else 0.0
            if wait:
                until = now + wait
            self._local[key] = (failures, until, now + self.window + wait)
            if len(self._local) > 100_000:  # bounded memory under a spray of subjects
                for stale in [k for k, v in self._local.items() if v[2] < now]:
                    del self._local[stale]
            return wait
