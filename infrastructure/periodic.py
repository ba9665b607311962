"""A job run every few seconds or minutes in a daemon thread of the worker process (audit
checkpoints, the counter result feed): a failing run is logged and the job runs again next time."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Every:
    def __init__(self, seconds: float, job: Callable[[], object], name: str):
        self.seconds, self.job, self.name = seconds, job, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.job()
            except Exception:  # the job runs again next time; an outage must not stop the worker
                log.exception("%s failed", self.name)
