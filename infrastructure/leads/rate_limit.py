"""Per-token rate limits for lead intake: a fixed one-minute window counter in Redis
(INCRBY + EXPIRE in one pipeline). When Redis is down intake is not refused (fail open) and
the limiter says so in its answer."""
from __future__ import annotations

import time

import redis

from infrastructure.redis.supervisor import RedisSupervisor


class RateLimiter:
    def __init__(self, supervisor: RedisSupervisor, per_minute: int):
        self.supervisor, self.per_minute = supervisor, per_minute

    def take(self, subject: str, amount: int = 1) -> tuple[bool, int]:
        """(allowed, seconds until the window resets)."""
        if self.per_minute <= 0 or not self.supervisor.available:
            return True, 0
        window = int(time.time() // 60)
        key = self.supervisor.key(f"leads:rate:{subject}:{window}")
        try:
            pipe = self.supervisor.client.pipeline()
            pipe.incrby(key, amount)
            pipe.expire(key, 120)
            used, _ = pipe.execute()
        except redis.RedisError:
            return True, 0
        return int(used) <= self.per_minute, 60 - int(time.time()) % 60
