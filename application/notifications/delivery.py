"""External delivery's use cases for people (ADR 0015): the dead-letter list and putting rows back
to be sent, and the outbox port both these and the delivery worker (``delivery_worker.py``)
use. The outbox is an effect log, not event-sourced: a retry is a row update, and logged with
who asked for it."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Protocol

from domain.notifications.delivery import DEAD_LETTERS, RETRYABLE, ChannelName, OutboxRow, Status
from domain.shared.errors import ConflictError, NotFoundError

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Outbox(Protocol):
    """``notifications_outbox`` (infrastructure/notifications/outbox.py). Every update after a
    send names the attempt it records, so a late answer cannot overwrite a newer attempt."""

    def claim(self, channels: Sequence[str], now: datetime, lease: timedelta, limit: int) -> list[OutboxRow]:
        """Due rows, marked ``sending`` with one more attempt and a lease until ``now + lease``,
        in one transaction that skips rows other workers hold (FOR UPDATE SKIP LOCKED)."""
        ...

    def record_sent(self, key: str, attempts: int, at: datetime) -> bool: ...

    def release(self, key: str, attempts: int, now: datetime) -> bool:
        """A claimed row this worker will not try after all: back to pending, the attempt uncounted."""
        ...

    def record_failure(self, key: str, attempts: int, status: Status, error: str, next_attempt_at: datetime) -> bool:
        ...

    def stale(self, channels: Sequence[str], now: datetime, limit: int) -> list[OutboxRow]:
        """Rows still ``sending`` after their lease ran out."""
        ...

    def purge_sent(self, before: datetime, limit: int = 5000) -> int: ...

    def get(self, key: str) -> OutboxRow | None: ...

    def page(self, statuses: Sequence[Status], channel: ChannelName | None,
             after: tuple[datetime, str] | None, limit: int) -> list[OutboxRow]:
        """Newest first, keyset-paginated by (created_at, key)."""
        ...

    def requeue(self, key: str, statuses: Sequence[Status], now: datetime) -> OutboxRow | None:
        """Back to ``pending`` with attempts reset, due now, if it is in one of ``statuses``."""
        ...

    def requeue_batch(self, status: Status, channel: ChannelName | None, now: datetime, after: str | None,
                      limit: int) -> list[str]:
        """Up to ``limit`` rows in ``status`` with keys after ``after``, back to ``pending``: their keys."""
        ...

    def counts(self) -> dict[tuple[str, str], int]:
        """Rows by (channel, status)."""
        ...


class Deliveries:
    """The dead-letter list and retries, for the API and the CLI."""

    def __init__(self, outbox: Outbox, clock: Clock = utcnow):
        self.outbox, self.clock = outbox, clock

    def dead_letters(self, *, statuses: Sequence[Status] = DEAD_LETTERS, channel: ChannelName | None = None,
                     after: tuple[datetime, str] | None = None, limit: int = 50) -> list[OutboxRow]:
        return self.outbox.page(statuses, channel, after, limit)

    def counts(self) -> dict[tuple[str, str], int]:
        return self.outbox.counts()

    def get(self, key: str) -> OutboxRow:
        row = self.outbox.get(key)
        if row is None:
            raise NotFoundError(f"no delivery has the key {key!r}", field="key")
        return row

    def retry(self, key: str, *, by: str) -> OutboxRow:
        """Put one dead, in-doubt or failed row back to be sent now, its attempts counted afresh.
        An in-doubt e-mail may have arrived: whoever retries it sends it again knowingly."""
        row = self.outbox.requeue(key, RETRYABLE, self.clock())
        if row is None:
            current = self.get(key)
            raise ConflictError(f"the delivery is {current.status}; only {', '.join(RETRYABLE)} ones are retried",
                                field="key")
        log.info("notification delivery %s put back to pending by %s", key, by)
        return row

    def retry_dead(self, *, by: str, channel: ChannelName | None = None, batch: int = 500,
                   progress: Callable[[int], None] | None = None) -> int:
        """Every dead row (not the in-doubt ones: each of those is a decision) back to pending, in
        batches; ``progress`` hears the running total."""
        done, after = 0, None
        # By key, so a row that dies again while this runs is not taken twice.
        while keys := self.outbox.requeue_batch("dead", channel, self.clock(), after, batch):
            done, after = done + len(keys), max(keys)
            if progress is not None:
                progress(done)
        log.info("%d dead notification deliveries%s put back to pending by %s", done,
                 f" on {channel}" if channel else "", by)
        return done
