"""The delivery worker (ADR 0015): sends due outbox rows through their channel's adapter and
records what happened. Several workers (threads or processes) share the table: a claim marks
rows ``sending`` in the transaction that locks them, so no two workers send the same row; a
row left ``sending`` by a worker that died is found when its lease runs out and sent again
with the same key where the other side deduplicates, or set aside as ``in_doubt`` (SMTP)."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from application.notifications.delivery import Clock, Outbox, utcnow
from domain.notifications.delivery import (
    Channel,
    DeliveryError,
    Message,
    OutboxRow,
    Recipients,
    RetryPolicy,
    Status,
    after_interruption,
    redact,
)

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, outbox: Outbox, channels: Mapping[str, Channel], recipients: Recipients, *,
                 policy: RetryPolicy | None = None, lease_seconds: float = 300.0, batch_size: int = 50,
                 concurrency: int = 4, poll_seconds: float = 1.0, recover_seconds: float = 60.0,
                 keep_sent_days: int = 0, clock: Clock = utcnow):
        self.outbox, self.channels, self.recipients = outbox, dict(channels), recipients
        self.policy = policy or RetryPolicy()
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size, self.concurrency = batch_size, concurrency
        self.poll_seconds, self.recover_seconds, self.clock = poll_seconds, recover_seconds, clock
        self.keep_sent = timedelta(days=keep_sent_days) if keep_sent_days > 0 else None
        self.totals: Counter[str] = Counter()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- one pass ---------------------------------------------------------------------------
    def tick(self) -> Counter[str]:
        """Claim one batch of due rows and send them (``concurrency`` at a time); the outcome of
        each row by status."""
        rows = self.outbox.claim(list(self.channels), self.clock(), self.lease, self.batch_size)
        addresses: dict[tuple[str, str], str | None] = {}  # a batch often has one recipient many times

        def deliver(row: OutboxRow) -> Status:
            return self._deliver(row, addresses)

        outcomes: Iterable[Status]
        if self.concurrency > 1 and len(rows) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="notifier-send")
            outcomes = self._pool.map(deliver, rows)
        else:
            outcomes = map(deliver, rows)
        done: Counter[str] = Counter(outcomes)
        self.totals.update(done)
        return done

    def _deliver(self, row: OutboxRow, addresses: dict[tuple[str, str], str | None]) -> Status:
        if self._stop.is_set():  # shutting down: claimed, never tried — not in doubt, just not yet
            self.outbox.release(row.key, row.attempts, self.clock())
            return "pending"
        address = None
        try:
            if (row.recipient, row.channel) not in addresses:
                addresses[row.recipient, row.channel] = self.recipients.address(row.recipient, row.channel)
            address = addresses[row.recipient, row.channel]
            if not address:
                raise DeliveryError(f"{row.recipient} has no {row.channel} address (unknown, disabled or none "
                                    "on file)", permanent=True)
            self.channels[row.channel].send(Message(address, row.recipient, row.kind, row.language, row.subject,
                                                    row.body, row.link, row.payload), row.key)
        except DeliveryError as exc:
            return self._failed(row, exc, address, traceback=False)
        except Exception as exc:  # an adapter's bug: retried like a refusal, logged with its traceback
            return self._failed(row, DeliveryError(f"{type(exc).__name__}: {exc}"), address, traceback=True)
        # Between the send above and this record the row is in doubt: a crash here leaves it
        # 'sending' for recover() to find.
        self.outbox.record_sent(row.key, row.attempts, self.clock())
        return "sent"

    def _failed(self, row: OutboxRow, exc: DeliveryError, address: str | None, *, traceback: bool) -> Status:
        status = self.policy.after_failure(exc, row.attempts)
        now = self.clock()
        next_at = now + self.policy.delay(row.key, row.attempts) if status == "failed" else now
        error = redact(exc.message, address)
        self.outbox.record_failure(row.key, row.attempts, status, error, next_at)
        then = f"retry after {next_at:%Y-%m-%d %H:%M:%S}Z" if status == "failed" else "dead"
        log.log(logging.ERROR if traceback else logging.WARNING,
                "notification delivery %s: attempt %d of %d failed (%s); %s", row.key, row.attempts,
                self.policy.max_attempts, error, then, exc_info=traceback)
        return status

    def recover(self) -> Counter[str]:
        """Rows whose worker died between claim and record (their lease ran out): sent again with
        the same key while the other side can still recognise it, else ``in_doubt``."""
        now = self.clock()
        done: Counter[str] = Counter()
        for row in self.outbox.stale(list(self.channels), now, 500):
            channel = self.channels.get(row.channel)
            if channel is None:
                continue  # another process serves this channel and decides
            status = after_interruption(channel.dedup_seconds, row.next_attempt_at - self.lease, now)
            if status == "pending":
                error = "interrupted while sending; sent again with the same key (the other side deduplicates)"
            else:
                error = "interrupted while sending: it may have been delivered; retry it knowingly"
            if self.outbox.record_failure(row.key, row.attempts, status, error, now):
                done[status] += 1
                log.warning("notification delivery %s found interrupted (attempt %d): %s", row.key, row.attempts,
                            "sent again" if status == "pending" else "set aside as in_doubt")
        return done

    # -- the thread ---------------------------------------------------------------------------
    def start(self) -> None:
        if not self.channels:
            log.info("notifier not started: no external channel is configured")
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for due rows now (e.g. when the projection has just written some)."""
        self._wake.set()

    def _run(self) -> None:
        recover_at = 0.0
        while not self._stop.is_set():
            sent = 0
            try:
                if time.monotonic() >= recover_at:
                    recover_at = time.monotonic() + self.recover_seconds
                    self.recover()
                    if self.keep_sent is not None:
                        self.outbox.purge_sent(self.clock() - self.keep_sent)
                sent = sum(self.tick().values())
            except Exception:  # the worker must outlive a database blip; the rows wait
                log.exception("notifier pass failed")
            if sent < self.batch_size:  # a full batch: more may be due at once
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def stop(self, timeout: float = 15.0) -> None:
        """Stops taking rows at once: the claimed rows not yet tried go back to pending, a send in
        flight finishes (bounded by the adapters' timeouts) and is recorded — or, if the process
        ends first, its row is found interrupted later."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
