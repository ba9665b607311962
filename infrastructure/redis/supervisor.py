"""Watches Redis. While it is down the service keeps accepting commands; when it comes
back (or is flushed) every registered rebuilder restores its derived state."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from infrastructure.engines.health import EngineHealth

log = logging.getLogger(__name__)

Rebuilder = Callable[[redis.Redis], None]

EPOCH_KEY = "epoch"  # a marker whose absence means Redis lost its data


class RedisSupervisor:
    def __init__(self, url: str, prefix: str, check_seconds: float = 1.0):
        self.url = url
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                           health_check_interval=0)
        self.check_seconds = check_seconds
        self.health = EngineHealth("Redis")
        self.rebuilds = 0
        self._rebuilders: list[tuple[str, Rebuilder]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.health.up

    @available.setter
    def available(self, value: bool) -> None:
        # Set by every component whose Redis call failed, so the outage is logged by whoever
        # meets it first: one warning when it goes, one when the next check finds it back.
        self.health.mark(value, "wake-ups and waits fall back to polling")

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def register(self, name: str, rebuilder: Rebuilder) -> None:
        self._rebuilders.append((name, rebuilder))

    def check(self) -> bool:
        """Ping; rebuild derived state if Redis is new to us, lost its data, or was unreachable
        since the last check (writes skipped meanwhile, e.g. a timer, must not stay lost)."""
        with self._lock:
            try:
                self.client.ping()
                fresh = not self.client.exists(self.key(EPOCH_KEY))
            except redis.RedisError as exc:
                self.health.mark(False, f"{type(exc).__name__}; wake-ups and waits fall back to polling")
                return False
            rebuilt = (fresh or not self.available) and self._rebuild()
            self.available = True
            if rebuilt:  # counted once the state is readable as available (tests wait on it)
                self.rebuilds += 1
            return True

    def _rebuild(self) -> bool:
        for name, rebuilder in self._rebuilders:
            try:
                rebuilder(self.client)
            except Exception:  # one failing rebuilder must not hide the others
                log.exception("rebuilding Redis state %s failed", name)
                return False
        self.client.set(self.key(EPOCH_KEY), "1")
        log.info("Redis derived state rebuilt (%d rebuilders)", len(self._rebuilders))
        return True

    def start(self) -> None:
        self.check()
        self._thread = threading.Thread(target=self._run, name="redis-supervisor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.check_seconds):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.client.close()
