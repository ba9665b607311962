"""Customer, as known from the account-opening system (CAP): the directory behind fund-account
lookups. Synchronised from the adapter; each change is an event."""
from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.ids import natural_id


class Customer(LedgerAggregate):
    @event("Registered")
    def __init__(self, fund_account: str, profile: dict[str, Any]):
        self.fund_account, self.profile = fund_account, profile

    @classmethod
    def register(cls, fund_account: str, profile: dict[str, Any]) -> Customer:
        return cls._create(cls.Registered, id=natural_id("customer", fund_account), fund_account=fund_account,
                           profile=profile)

    def sync(self, profile: dict[str, Any]) -> bool:
        if profile == self.profile:
            return False
        self._updated(profile=profile, old_profile=self.profile)
        return True

    @event("Updated")
    def _updated(self, profile: dict[str, Any], old_profile: dict[str, Any]) -> None:
        self.profile = profile
