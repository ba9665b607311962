"""External delivery (ADR 0015): an outbox row as the delivery worker sees it, the message a
channel adapter sends, the channel and recipient ports, and the rules that decide what happens
after a failure or an interruption. Pure: the adapters (infrastructure/notifications) and the
worker (application/notifications) both speak these, so neither imports the other."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from uuid import UUID

ChannelName = Literal["email", "sms", "wecom", "oa"]
CHANNELS: tuple[ChannelName, ...] = ("email", "sms", "wecom", "oa")
Status = Literal["pending", "sending", "sent", "failed", "dead", "in_doubt"]
STATUSES: tuple[Status, ...] = ("pending", "sending", "sent", "failed", "dead", "in_doubt")
# Due for a (re)send: new rows and those waiting out their backoff.
DUE: tuple[Status, ...] = ("pending", "failed")
# The dead-letter list: given up after the last attempt, or interrupted where a resend could
# deliver twice (SMTP). Only an operator puts them back.
DEAD_LETTERS: tuple[Status, ...] = ("dead", "in_doubt")
# What an operator may put back to pending: a sent row stays sent, a sending one is in flight.
RETRYABLE: tuple[Status, ...] = ("dead", "in_doubt", "failed")
ERROR_CHARS = 500  # last_error is a diagnosis, not a transcript


@dataclass(frozen=True)
class OutboxRow:
    """One row of ``notifications_outbox`` (the contract with the ``notifications.inbox``
    projection, which writes it): the subject and body are rendered already."""

    key: str  # "{originator_id}:{originator_version}:{recipient}:{channel}", the idempotency key
    notification_id: UUID
    recipient: str  # "operator:wang.fang"
    channel: ChannelName
    kind: str
    language: str
    subject: str
    body: str
    link: str | None
    payload: Mapping[str, Any]
    status: Status
    attempts: int
    next_attempt_at: datetime  # while sending: when the worker's lease on the row runs out
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Message:
    """What a channel adapter sends: the row's content and the recipient's address on that
    channel (an e-mail address, a phone number, a WeCom userid, an OA login), looked up in the
    access context at send time, never taken from the outbox."""

    to: str
    recipient: str
    kind: str
    language: str
    subject: str
    body: str
    link: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    reference: str | None = None  # the other side's id: Message-ID, msgid, the gateway's message id
    duplicate: bool = False  # the other side said it had this key already (nothing sent again)


class DeliveryError(Exception):
    """The other side refused the message or could not be reached. ``permanent``: sending again
    cannot help (an unknown address, content refused), so the row is dead at once."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class Channel(Protocol):
    """An external channel. ``dedup_seconds``: how long the other side recognises a key it has
    seen (0: it cannot — SMTP), so an interrupted send may be repeated within that time only."""

    @property
    def dedup_seconds(self) -> float: ...

    def send(self, message: Message, idempotency_key: str) -> Receipt: ...


class Recipients(Protocol):
    def address(self, recipient: str, channel: ChannelName) -> str | None:
        """The recipient's address on the channel, or None (unknown, disabled, none on file)."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base`` after the first failure, doubling up to ``cap``, each delay
    scaled by a factor in [0.5, 1] fixed by the row's key and attempt (spreads the rows a gateway
    outage failed together, yet the same for every worker and every run); dead after
    ``max_attempts``."""

    max_attempts: int = 8
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0

    def delay(self, key: str, attempts: int) -> timedelta:
        ceiling = min(self.base_seconds * 2 ** max(attempts - 1, 0), self.cap_seconds)
        digest = hashlib.blake2b(f"{key}#{attempts}".encode(), digest_size=2).digest()
        return timedelta(seconds=ceiling * (0.5 + int.from_bytes(digest, "big") / 0xFFFF / 2))

    def after_failure(self, error: DeliveryError, attempts: int) -> Status:
        return "dead" if error.permanent or attempts >= self.max_attempts else "failed"


def after_interruption(dedup_seconds: float, claimed_at: datetime, now: datetime) -> Status:
    """A row found ``sending`` once its lease ran out: its worker died (or hung) between the send
    and the record. Sent again with the same key only while the other side still recognises the
    key; otherwise (SMTP, or a window gone by) it waits in the dead-letter list as ``in_doubt``
    for an operator, who knows it may have arrived (at most once, ADR 0015)."""
    return "pending" if (now - claimed_at).total_seconds() < dedup_seconds else "in_doubt"


def redact(text: str, *secrets: str | None) -> str:
    """An error text fit for the table and the log: the recipient's address (gateways echo it)
    replaced, bounded in length."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<address>")
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 1] + "…"
