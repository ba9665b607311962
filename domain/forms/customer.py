"""Customer, as known from the account-opening system (CAP): the directory behind fund-account
lookups. Synchronised from the adapter; each change is an event."""
from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from domain.privacy.personal import Personal, is_erased, personal
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import CUSTOMER_ACCOUNT, natural_id
from domain.shared.text import require_text

# The personal fields of a customer profile, sealed under the customer's key (ADR 0028).
PERSONAL_PROFILE_FIELDS = ("name", "id_number", "phone", "bank_account", "address", "email")


def check_profile(fund_account: str, profile: dict[str, Any]) -> None:
    """What the account-opening system sends must fit the directory: an ASCII account number and
    text (or nothing) in every field — the read model keeps each field in a text column."""
    if not isinstance(fund_account, str) or not CUSTOMER_ACCOUNT.fullmatch(fund_account):
        raise RuleViolationError("a fund account is 1-32 ASCII letters or digits", field="fund_account")
    for key, value in profile.items():
        if not isinstance(key, str) or len(key) > 64:
            raise RuleViolationError("profile field names are text of at most 64 characters", field="profile")
        if value is not None and not isinstance(value, str):
            raise RuleViolationError(f"profile field {key!r} must be text", field=key)
        if isinstance(value, str):
            require_text(value, key, 500)


class Customer(LedgerAggregate):
    class Registered(LedgerAggregate.Created):
        fund_account: str
        profile: dict[str, Any]

    @event(Registered)
    def __init__(self, fund_account: str, profile: dict[str, Any]):
        self.fund_account, self.profile = fund_account, profile

    @classmethod
    def register(cls, fund_account: str, profile: dict[str, Any]) -> Customer:
        check_profile(fund_account, profile)
        return cls._create(cls.Registered, id=natural_id("customer", fund_account), fund_account=fund_account,
                           profile=profile)

    @property
    def erased(self) -> bool:
        """The customer's personal data was erased: the account-opening system's copy is not
        taken in again (ADR 0028)."""
        return any(is_erased(self.profile.get(f)) for f in PERSONAL_PROFILE_FIELDS)

    def sync(self, profile: dict[str, Any]) -> bool:
        check_profile(self.fund_account, profile)
        if profile == self.profile:
            return False
        self._updated(profile=profile, old_profile=self.profile)
        return True

    class Updated(LedgerAggregate.Event):
        profile: dict[str, Any]
        old_profile: dict[str, Any]

    @event(Updated)
    def _updated(self, profile: dict[str, Any], old_profile: dict[str, Any]) -> None:
        self.profile = profile


personal(Customer.Registered, Personal("customer", tuple(f"profile.{f}" for f in PERSONAL_PROFILE_FIELDS)))
personal(Customer.Updated, Personal("customer", tuple(f"{p}.{f}" for p in ("profile", "old_profile")
                                                      for f in PERSONAL_PROFILE_FIELDS)))
