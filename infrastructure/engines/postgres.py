"""PostgreSQL outages: the error a request gets while the database cannot answer, and the
probe that decides whether it can (ADR 0026)."""
from __future__ import annotations

import logging
import math
import select
import time
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg import pq
from psycopg.conninfo import make_conninfo


class DatabaseUnavailable(PersistenceError):
    """PostgreSQL did not answer in time, or is known to be down: nothing of the request was
    written, and nothing of it will be written later. The API answers 503 `database_unavailable`.

    Not an OperationalError on purpose: the library retries those ten times (a pooled
    connection found broken is worth another try), which would multiply the bound by ten."""


def libpq_timeouts(timeout: float) -> dict[str, Any]:
    """Connection parameters that bound how long libpq waits on an unreachable server.
    connect_timeout counts whole seconds (libpq takes at least 2); tcp_user_timeout makes the
    kernel drop a connection whose sent data stays unacknowledged (a network partition), which
    also stops a statement already sent from being delivered once the network heals."""
    return {"connect_timeout": max(2, math.ceil(timeout)), "tcp_user_timeout": max(1, int(timeout * 1000))}


class PostgresProbe:
    """Asks ``SELECT 1`` on a connection of its own (never one of the pool's: the answer must
    not wait behind requests) and gives up after ``timeout`` seconds. Returns None when
    PostgreSQL answered, else why it is counted down.

    It speaks libpq's non-blocking calls directly: a blocking connect rounds its timeout up to
    whole seconds, and psycopg answers an interrupted query by asking the server to cancel it,
    which waits (seconds) on the very server that stopped answering."""

    def __init__(self, params: dict[str, Any], timeout: float):
        clean = {k: v for k, v in params.items() if k != "row_factory"} | libpq_timeouts(timeout)
        self.conninfo = make_conninfo(**clean).encode()
        self.timeout = timeout
        self._pg: pq.abc.PGconn | None = None

    def __call__(self) -> str | None:
        deadline = time.monotonic() + self.timeout
        try:
            if self._pg is None or self._pg.status != pq.ConnStatus.OK:
                self._discard()
                self._pg = self._connect(deadline)
            self._ask(self._pg, deadline)
            return None
        except TimeoutError:
            reason = f"no answer within {self.timeout:.2g} s"
        except (psycopg.Error, OSError) as exc:
            reason = f"{type(exc).__name__}: {_first_line(exc)}"
        self._discard()
        return reason

    def _connect(self, deadline: float) -> pq.abc.PGconn:
        pg = pq.PGconn.connect_start(self.conninfo)
        try:
            while True:
                status = pg.connect_poll()
                if status == pq.PollingStatus.OK:
                    return pg
                if status == pq.PollingStatus.FAILED:
                    raise psycopg.OperationalError(pg.get_error_message())
                _wait(pg.socket, deadline, write=status == pq.PollingStatus.WRITING)
        except BaseException:
            pg.finish()
            raise

    @staticmethod
    def _ask(pg: pq.abc.PGconn, deadline: float) -> None:
        pg.send_query(b"SELECT 1")
        while pg.flush():
            _wait(pg.socket, deadline, write=True)
        while True:
            pg.consume_input()
            if not pg.is_busy():
                break
            _wait(pg.socket, deadline)
        ok = False
        while (result := pg.get_result()) is not None:
            ok = ok or result.status == pq.ExecStatus.TUPLES_OK
        if not ok:
            raise psycopg.OperationalError(pg.get_error_message() or "SELECT 1 failed")

    def _discard(self) -> None:
        pg, self._pg = self._pg, None
        if pg is not None:
            pg.finish()  # local: closes the socket, sends nothing that waits for an answer

    def close(self) -> None:
        self._discard()


def _wait(fd: int, deadline: float, *, write: bool = False) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    # poll, not select: select() refuses descriptors above 1023, which a busy process reaches.
    poller = select.poll()
    poller.register(fd, select.POLLOUT if write else select.POLLIN)
    if not poller.poll(remaining * 1000):
        raise TimeoutError


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def is_outage(exc: BaseException) -> bool:
    """Whether an error means PostgreSQL could not be reached or answer (an expected outage,
    logged as one line), rather than a bug (logged with its traceback)."""
    from eventsourcing.persistence import InterfaceError
    from eventsourcing.persistence import OperationalError as StoreOperationalError
    from psycopg_pool import PoolTimeout

    if isinstance(exc, BaseExceptionGroup):
        return all(is_outage(e) for e in exc.exceptions)
    return isinstance(exc, (DatabaseUnavailable, StoreOperationalError, InterfaceError, psycopg.OperationalError,
                            psycopg.InterfaceError, PoolTimeout))


class OutageLogFilter(logging.Filter):
    """Turns a failure caused by an outage into a DEBUG line without its traceback: the engine
    watch logs the outage once, and background loops retrying every second must not repeat it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and is_outage(exc):
            record.msg = f"{record.msg} (PostgreSQL unavailable: {type(exc).__name__})"
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def quiet_outages(packages: tuple[str, ...] = ("application", "infrastructure", "interfaces")) -> None:
    """Install the filter on every logger of the service's own modules (imported by now)."""
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (isinstance(logger, logging.Logger) and name.split(".")[0] in packages
                and not any(isinstance(f, OutageLogFilter) for f in logger.filters)):
            logger.addFilter(OutageLogFilter())
