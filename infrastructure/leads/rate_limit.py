"""Per-token rate limits for lead intake: a fixed one-minute window counter in Redis
(INCRBY + EXPIRE in one pipeline). A refused request gives its amount back, so a refused
1000-row batch does not use the budget. When Redis is down (or fails) the same window is
counted in process memory: the limit then holds per process instead of failing open."""
from __future__ import annotations

import threading
import time

import redis

from infrastructure.redis.supervisor import RedisSupervisor


class RateLimiter:
    def __init__(self, supervisor: RedisSupervisor, per_minute: int):
        self.supervisor, self.per_minute = supervisor, per_minute
        self._local: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def take(self, subject: str, amount: int = 1) -> tuple[bool, int]:
        """(allowed, seconds until the window resets)."""
        if self.per_minute <= 0:
            return True, 0
        now = time.time()
        window, retry = int(now // 60), 60 - int(now) % 60
        if self.supervisor.available:
            key = self.supervisor.key(f"leads:rate:{subject}:{window}")
            try:
                pipe = self.supervisor.client.pipeline()
                pipe.incrby(key, amount)
                pipe.expire(key, 120)
                used, _ = pipe.execute()
                if int(used) <= self.per_minute:
                    return True, retry
                self.supervisor.client.decrby(key, amount)  # refused: not counted
                return False, retry
            except redis.RedisError:
                pass
        return self._take_local(subject, window, amount), retry

    def _take_local(self, subject: str, window: int, amount: int) -> bool:
        with self._lock:
            for stale in [k for k in self._local if k[1] < window]:
                del self._local[stale]
            used = self._local.get((subject, window), 0) + amount
            if used > self.per_minute:
                return False
            self._local[(subject, window)] = used
            return True
