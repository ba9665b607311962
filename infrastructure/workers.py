"""Projection workers: one thread per projection, woken by PostgreSQL NOTIFY on commit
(and at once by commits made in this process), polling as the fallback. A projection whose
tables were built by an older version of its code is rebuilt blue/green by one more thread
while its live tables keep serving and updating (ADR 0029)."""
from __future__ import annotations

import logging
import threading

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg.sql import SQL, Identifier

from infrastructure.engines.postgres import is_outage, libpq_timeouts
from infrastructure.eventstore.store import EventStore
from infrastructure.projections import ProjectionRunner
from infrastructure.rebuilds import BlueGreenRebuild, RebuildBusy
from infrastructure.redis.progress import ProgressBoard

log = logging.getLogger(__name__)


class ProjectionWorkers:
    def __init__(self, store: EventStore, runners: list[ProjectionRunner], board: ProgressBoard | None,
                 database_url: str, poll_seconds: float = 1.0, rebuild_batch_size: int = 10_000):
        self.store = store
        self.runners = runners
        self.board = board
        self.database_url = database_url
        self.poll_seconds = poll_seconds
        self._wake = {r.name: threading.Event() for r in runners}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.notifications_received = 0
        self.rebuild_batch_size = rebuild_batch_size
        self.rebuilds: dict[str, BlueGreenRebuild] = {}  # those under way in this process

    def wake(self, *_: object) -> None:
        for event in self._wake.values():
            event.set()

    def start(self) -> None:
        self.store.recorder.stats.listeners.append(self.wake)
        for runner in self.runners:
            t = threading.Thread(target=self._run, args=(runner,), name=f"projection:{runner.name}", daemon=True)
            t.start()
            self._threads.append(t)
            if runner.needs_rebuild:
                t = threading.Thread(target=self._rebuild, args=(runner,), name=f"rebuild:{runner.name}",
                                     daemon=True)
                t.start()
                self._threads.append(t)
        t = threading.Thread(target=self._listen, name="projection-listen", daemon=True)
        t.start()
        self._threads.append(t)

    def _run(self, runner: ProjectionRunner) -> None:
        wake = self._wake[runner.name]
        backoff = self.poll_seconds
        while not self._stop.is_set():
            wake.clear()
            try:
                progressed = False
                while not self._stop.is_set() and runner.run_batch():
                    progressed = True
                if progressed and self.board is not None:
                    self.board.publish(runner.name, runner.position())
                backoff = self.poll_seconds
            except Exception as exc:  # a failing projection must not stop the others
                runner.last_error = f"{type(exc).__name__}: {exc}"
                if is_outage(exc):  # the engine watch logs the outage once (ADR 0026); retry at the pace of polling
                    log.debug("projection %s waits for PostgreSQL: %s", runner.name, runner.last_error)
                    self._stop.wait(self.poll_seconds)
                    continue
                log.exception("projection %s failed; retrying in %.1fs", runner.name, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            wake.wait(self.poll_seconds)

    def _rebuild(self, runner: ProjectionRunner) -> None:
        """Rebuild blue/green until this version's tables serve: here, or in another process that
        holds the rebuild (this one then waits, and takes over from its position if it dies)."""
        rebuild = BlueGreenRebuild(runner, batch_size=self.rebuild_batch_size, stop=self._stop)
        self.rebuilds[runner.name] = rebuild
        wait = self.poll_seconds
        try:
            while not self._stop.is_set() and runner.needs_rebuild:
                try:
                    if rebuild.run(if_stale=True):
                        self._wake[runner.name].set()
                        if self.board is not None:
                            self.board.publish(runner.name, runner.position())
                        return
                except RebuildBusy:
                    log.info("projection %s: another process is rebuilding it; waiting", runner.name)
                    runner.needs_rebuild = runner.status().version < runner.projection.version
                except Exception as exc:  # a failing rebuild leaves the old tables serving; try again later
                    rebuild.error = f"{type(exc).__name__}: {exc}"
                    log.exception("rebuild of %s failed; retrying in %.1fs", runner.name, wait)
                self._stop.wait(wait)
                wait = min(wait * 2, 30.0)
        finally:
            self.rebuilds.pop(runner.name, None)

    def _listen(self) -> None:
        channel = self.store.recorder.channel_name
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.database_url, autocommit=True, **libpq_timeouts(self.store.timeout)) as conn:
                    conn.execute(SQL("LISTEN {0}").format(Identifier(channel)))
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self.notifications_received += 1
                            self.wake()
            except psycopg.Error:
                # INFO: an outage is logged once, by the engine watch; projections still poll.
                log.info("LISTEN connection lost; projections poll until it is back")
                self._stop.wait(self.poll_seconds)

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        # Wake the LISTEN thread out of its blocking read at once (other processes' workers take
        # it as one more poll); without it a stop waits up to half a second.
        try:
            with self.store.datastore.get_connection() as conn:
                conn.execute(SQL("NOTIFY {0}").format(Identifier(self.store.recorder.channel_name)))
        except (psycopg.Error, PersistenceError):  # PostgreSQL is away: the threads stop on their own
            pass
        for t in self._threads:
            t.join(timeout=10)
        if self.wake in self.store.recorder.stats.listeners:
            self.store.recorder.stats.listeners.remove(self.wake)
