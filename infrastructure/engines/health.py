"""What the process last saw of each engine, and the two log lines an outage is worth.

An outage is expected operation, not a bug: it is logged as one WARNING when an engine goes
down and one when it comes back (with how long it was gone), never once per failed request
and never with a traceback. Every watcher of an engine (a probe thread, a failed write)
reports through one ``EngineHealth``, so the lines are written once whoever notices first.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("ledgerflow.engines")


class EngineHealth:
    def __init__(self, name: str):
        self.name = name
        self._up: bool | None = None  # None: not checked yet
        self._since = time.monotonic()
        self._reason = ""
        self._lock = threading.Lock()

    @property
    def up(self) -> bool:
        return bool(self._up)

    @property
    def checked(self) -> bool:
        return self._up is not None

    @property
    def reason(self) -> str:
        return self._reason

    def mark(self, up: bool, reason: str = "") -> bool:
        """Record what a watcher saw; True when this changed the state (and was logged)."""
        with self._lock:
            if up == self._up:
                return False
            before, self._up = self._up, up
            now = time.monotonic()
            seconds, self._since = now - self._since, now
            self._reason = "" if up else reason
        if up and before is None:
            log.info("%s available", self.name)
        elif up:
            log.warning("%s available again after %.1f s", self.name, seconds)
        else:
            log.warning("%s unavailable: %s", self.name, reason or "no answer")
        return True

    def describe(self) -> str:
        """For readiness, which anyone may ask: ``ok`` or ``down`` (the reason is in the log)."""
        return "ok" if self._up else "down"


Probe = Callable[[], "str | None"]  # None: the engine answered; else why it is counted down


class Watch:
    """Probes one engine every ``interval`` seconds from its own thread and records the answer,
    so readiness reads a state instead of queueing behind the engine's busy connections."""

    def __init__(self, health: EngineHealth, probe: Probe, interval: float,
                 on_down: Callable[[], None] | None = None, failures_to_down: int = 2):
        self.health = health
        self.probe = probe
        self.interval = interval
        self.on_down = on_down
        # One slow answer is not an outage: ``on_down`` breaks the connections in use, and a
        # connection whose COMMIT the server already made would then answer 503 for a change that
        # was recorded. Only consecutive failures count (the first check at start counts at once).
        self.failures_to_down = failures_to_down
        self._failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        reason = self.probe()
        self._failures = 0 if reason is None else self._failures + 1
        if reason is not None and self.health.checked and self._failures < self.failures_to_down:
            return False  # not yet counted down
        if self.health.mark(reason is None, reason or "") and reason is not None and self.on_down:
            self.on_down()
        return reason is None

    def start(self) -> None:
        self.check()
        self._thread = threading.Thread(target=self._run, name=f"watch-{self.health.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # a broken probe must not end the watch; it is a bug, logged as one
                log.exception("probing %s failed", self.health.name)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
