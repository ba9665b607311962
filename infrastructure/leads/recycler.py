"""The recycling job (回收): every ``poll_seconds`` it asks the leads application to recycle
and reassign what is due in each business line. The application's clock decides what is
due, so tests drive it with a test clock and call ``tick`` directly."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from domain.shared.context import CommandContext
from domain.shared.errors import DomainError

log = logging.getLogger(__name__)


def _each_line(job: str, lines: Iterable[str], explicit: bool, totals: dict[str, int],
              run: Callable[[str], dict[str, int]]) -> dict[str, int]:
    """Run ``run`` for one business line at a time and add up its counts. A refusal is logged;
    an unexpected failure is logged and the next line goes on — in the job, one line's failure
    must not stop the others — but both are raised when the caller named the lines itself."""
    for line in lines:
        try:
            done = run(line)
        except DomainError as exc:
            if explicit:
                raise
            log.info("%s: %s not run: %s", job, line, exc)
            continue
        except Exception:  # see above
            if explicit:
                raise
            log.exception("%s: %s failed", job, line)
            continue
        for k in totals:
            totals[k] += done[k]
    return totals


class SopRunner:
    """Runs the SOP tasks of every business line (the application holds the outbound adapter)."""

    def __init__(self, leads: Any, queries: Any):
        self.leads, self.queries = leads, queries

    def tick(self, business_lines: list[str] | None = None) -> dict[str, int]:
        """The job (no lines named) runs what the read model lists: a lag only delays a task to
        the next tick. Named lines (run-now) run once the read model holds every earlier save."""
        if business_lines is not None:
            return _each_line("sop", business_lines, True, {"reached": 0, "failed": 0},
                              lambda line: self.leads.run_sop_now(CommandContext.system("sop"), line))
        by_line: dict[str, list[str]] = {}
        for task in self.queries.sop_tasks({"all_lines": True, "lines": []}):
            by_line.setdefault(task["business_line"], []).append(task["key"])
        return _each_line("sop", by_line, False, {"reached": 0, "failed": 0},
                          lambda line: self.leads.run_sop(CommandContext.system("sop"), line, by_line[line]))


class Recycler:
    """The leads context's periodic job (with the projection workers): new account-opening
    events from the file adapter, recycling, then the SOP tasks."""

    def __init__(self, leads: Any, queries: Any, poll_seconds: float = 60.0, sop: SopRunner | None = None,
                 opening_feed: Any = None):
        self.leads, self.queries, self.poll_seconds, self.sop = leads, queries, poll_seconds, sop
        self.opening_feed = opening_feed  # the embedded account-opening adapter (a JSON-lines file)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, business_lines: list[str] | None = None) -> dict[str, int]:
        lines = business_lines if business_lines is not None else self.queries.business_lines()
        return _each_line("recycler", lines, business_lines is not None, {"recycled": 0, "reassigned": 0},
                         lambda line: self.leads.recycle_due(CommandContext.system("recycler"), line))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lead-recycler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.run_once()

    def run_once(self) -> None:
        """One pass: the feed, recycling and the SOP tasks each in their own guard, so a
        failure of one never stops the others."""
        if self.opening_feed is not None:
            try:
                for result in self.opening_feed.poll(self.leads):
                    if result["status"] != "accepted":
                        log.warning("account-opening event rejected: %s", result["reason"])
            except Exception:  # the job must outlive one bad run
                log.exception("account-opening feed poll failed")
        try:
            self.tick()
        except Exception:
            log.exception("lead recycling failed")
        if self.sop is not None:
            try:
                self.sop.tick()
            except Exception:
                log.exception("SOP run failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
