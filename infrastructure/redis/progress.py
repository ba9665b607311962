"""Projection progress: who has reached which position, for read-your-writes waits.

Positions are published in-process at once and through Redis pub/sub to other
processes; Redis also keeps them in a hash (derived state, rebuilt from the
tracking table). Waiters always confirm against PostgreSQL, so a lost message
only costs a poll interval.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import redis
from redis.typing import EncodableT, FieldT

from infrastructure.redis.supervisor import RedisSupervisor

log = logging.getLogger(__name__)

CHANNEL = "progress"
POSITIONS = "projection:positions"


class ProgressBoard:
    def __init__(self, supervisor: RedisSupervisor, read_position: Callable[[str], int],
                 poll_seconds: float = 0.05):
        self.supervisor = supervisor
        self.read_position = read_position
        self.poll_seconds = poll_seconds
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribers: list[Callable[[str | None], None]] = []

    def subscribe(self, callback: Callable[[str | None], None]) -> Callable[[], None]:
        """Call ``callback`` with a projection's name (None: unknown) whenever one may have moved,
        in this process or another; it runs on the publisher's thread, so it only hands over (an
        event loop's ``call_soon_threadsafe``). Returns the unsubscribe. For live streams: a waiter
        that is woken instead of holding a thread (ADR 0015)."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    @property
    def subscribed(self) -> int:
        """How many subscribers are listening (open live streams)."""
        return len(self._subscribers)

    def _moved(self, name: str | None) -> None:
        with self._cv:
            self._cv.notify_all()
        for callback in list(self._subscribers):
            try:
                callback(name)
            except Exception:  # a closed stream's loop: its own finally unsubscribes it
                log.debug("progress subscriber failed", exc_info=True)

    def publish(self, name: str, position: int) -> None:
        self._moved(name)
        if not self.supervisor.available:
            return
        try:
            pipe = self.supervisor.client.pipeline(transaction=False)
            pipe.hset(self.supervisor.key(POSITIONS), name, position)
            pipe.publish(self.supervisor.key(CHANNEL), f"{name}={position}")
            pipe.execute()
        except redis.RedisError:
            self.supervisor.available = False

    def wait_for(self, names: list[str], position: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if all(self.read_position(name) >= position for name in names):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._cv:
                self._cv.wait(min(remaining, self.poll_seconds if not self.supervisor.available else 0.25))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._listen, name="progress-listener", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            if not self.supervisor.available:
                self._stop.wait(self.supervisor.check_seconds)
                continue
            try:
                pubsub = self.supervisor.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.supervisor.key(CHANNEL))
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None:
                        data = message.get("data")
                        text = data.decode() if isinstance(data, bytes) else str(data or "")
                        self._moved(text.partition("=")[0] or None)
            except redis.RedisError:
                self._stop.wait(self.supervisor.check_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            # Wake the listener out of its blocking read at once (instead of after up to 0.5 s):
            # other processes' listeners take it as one more "re-check the positions".
            with contextlib.suppress(redis.RedisError):
                self.supervisor.client.publish(self.supervisor.key(CHANNEL), "")
            self._thread.join(timeout=5)

    def rebuilder(self, positions: Callable[[], dict[str, int]]) -> Callable[[redis.Redis], None]:
        def rebuild(client: redis.Redis) -> None:
            # redis-py's mapping type is keyed by any field type (Mapping is invariant in its key).
            current: dict[FieldT, EncodableT] = {name: position for name, position in positions().items()}
            if current:
                client.hset(self.supervisor.key(POSITIONS), mapping=current)
        return rebuild
