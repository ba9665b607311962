"""Looking a customer up by fund account: the account-opening system (CAP) live when one is
configured, else — or when it cannot answer — the synced copy (the ``forms_customers`` read
model that ``ledgerflow customers sync`` fills). The answer says where it came from, so a form or
a flow start can tell a fresh profile from one that may be stale (ADR 0019)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from domain.forms.live_customers import LiveAnswer, LiveCustomers, LiveLookupUnavailable
from domain.shared.ids import CUSTOMER_ACCOUNT, natural_id

__all__ = ["CustomerFound", "CustomerLookup", "LiveAnswer", "LiveCustomers", "LiveLookupUnavailable"]

log = logging.getLogger(__name__)

Source = Literal["live", "copy"]


@dataclass(frozen=True)
class CustomerFound:
    """A customer row in the read model's shape (``department_id``, not ``department_code``),
    with where it came from: ``live`` (fetched at ``fetched_at``, perhaps from the short cache) or
    ``copy`` (``stale`` when the live system should have answered but could not)."""

    row: dict[str, Any]
    source: Source
    stale: bool
    fetched_at: datetime | None


class CustomerLookup:
    """``find`` is the one way the API, form data sources and flow starts look a customer up."""

    def __init__(self, copy: Callable[[str], dict[str, Any] | None], live: LiveCustomers | None = None):
        self.copy, self.live = copy, live

    def find(self, fund_account: str) -> CustomerFound | None:
        """None when nobody knows the account. A live "no such account" is final: the copy is not
        asked, since the live system is the source of truth and the copy only stands in for it
        when it cannot answer (an account closed and removed there must not reappear from here)."""
        if not isinstance(fund_account, str) or not CUSTOMER_ACCOUNT.fullmatch(fund_account):
            return None  # no store holds such an account; nothing is sent anywhere
        stale = False
        if self.live is not None:
            try:
                answer = self.live.fetch(fund_account)
            except LiveLookupUnavailable as exc:
                log.warning("customer lookup: the account-opening system did not answer (%s); "
                            "serving the synced copy, marked stale", exc)
                stale = True
            else:
                if answer.profile is None:
                    return None
                return CustomerFound(customer_row(answer.profile), "live", False, answer.fetched_at)
        row = self.copy(fund_account)
        return CustomerFound(row, "copy", stale, None) if row else None


def customer_row(profile: dict[str, Any]) -> dict[str, Any]:
    """A live profile in the read model's shape: the department code becomes the department id
    the data-scope checks compare (as the ``forms.catalogue`` projection derives it)."""
    row = {k: v for k, v in profile.items() if k != "department_code"}
    code = profile.get("department_code")
    row["department_id"] = natural_id("department", code) if code else None
    row["updated_at"] = None  # the copy's change time; a live answer has fetched_at instead
    return row
