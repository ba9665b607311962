"""The recycling job (回收): every ``poll_seconds`` it asks the leads application to recycle
and reassign what is due in each business line. The application's clock decides what is
due, so tests drive it with a test clock and call ``tick`` directly."""
from __future__ import annotations

import logging
import threading
from typing import Any

from domain.shared.context import CommandContext
from domain.shared.errors import DomainError

log = logging.getLogger(__name__)


class Recycler:
    def __init__(self, leads: Any, queries: Any, poll_seconds: float = 60.0):
        self.leads, self.queries, self.poll_seconds = leads, queries, poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, business_lines: list[str] | None = None) -> dict[str, int]:
        total = {"recycled": 0, "reassigned": 0}
        for line in business_lines if business_lines is not None else self.queries.business_lines():
            try:
                done = self.leads.recycle_due(CommandContext.system("recycler"), line,
                                              self.queries.recycle_candidates)
            except DomainError as exc:
                log.info("recycler: %s not recycled: %s", line, exc)
                continue
            for k in total:
                total[k] += done[k]
        return total

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lead-recycler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the job must outlive one bad run
                log.exception("lead recycler tick failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
