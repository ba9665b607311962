"""The port to the account-opening system (CAP) for one customer, now (ADR 0019): what an adapter
in infrastructure/forms answers and raises; application/forms/customer_lookup.py puts it in front of
the synced copy."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class LiveLookupUnavailable(Exception):
    """The live system gave no usable answer (down, slow, 5xx, an answer that fails validation,
    or its circuit is open). The message names the reason, never the account or the data."""


@dataclass(frozen=True)
class LiveAnswer:
    """What the live system said about one fund account: its profile (the fields of
    ``infrastructure.forms.customers.PROFILE_FIELDS``), or None when it does not know the account."""

    profile: dict[str, Any] | None
    fetched_at: datetime


class LiveCustomers(Protocol):
    """The port: one customer from the account-opening system, now.

    ``fetch`` returns the LiveAnswer (profile None = the system says it has no such account) or
    raises LiveLookupUnavailable; implementations bound their own time (timeouts, retries)."""

    def fetch(self, fund_account: str) -> LiveAnswer: ...
