"""Sessions (password logins) and API tokens (systems). Only token hashes are recorded."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError


class Session(LedgerAggregate):
    class Started(LedgerAggregate.Created):
        operator_id: UUID
        access_hash: str
        refresh_hash: str
        access_expires_at: datetime
        refresh_expires_at: datetime

    @event(Started)
    def __init__(self, operator_id: UUID, access_hash: str, refresh_hash: str, access_expires_at: datetime,
                 refresh_expires_at: datetime):
        self.operator_id = operator_id
        self.access_hash, self.refresh_hash = access_hash, refresh_hash
        self.access_expires_at, self.refresh_expires_at = access_expires_at, refresh_expires_at
        self.revoked = False

    def refresh(self, access_hash: str, refresh_hash: str, access_expires_at: datetime,
                refresh_expires_at: datetime, now: datetime) -> None:
        if self.revoked or now >= self.refresh_expires_at:
            raise RuleViolationError("the session has ended; log in again", field="refresh_token")
        self._refreshed(access_hash=access_hash, refresh_hash=refresh_hash, access_expires_at=access_expires_at,
                        refresh_expires_at=refresh_expires_at)

    class Refreshed(LedgerAggregate.Event):
        access_hash: str
        refresh_hash: str
        access_expires_at: datetime
        refresh_expires_at: datetime

    @event(Refreshed)
    def _refreshed(self, access_hash: str, refresh_hash: str, access_expires_at: datetime,
                   refresh_expires_at: datetime) -> None:
        self.access_hash, self.refresh_hash = access_hash, refresh_hash
        self.access_expires_at, self.refresh_expires_at = access_expires_at, refresh_expires_at

    def revoke(self, reason: str) -> None:
        if not self.revoked:
            self._revoked(reason=reason)

    class Revoked(LedgerAggregate.Event):
        reason: str

    @event(Revoked)
    def _revoked(self, reason: str) -> None:
        self.revoked = True


class ApiToken(LedgerAggregate):
    class Issued(LedgerAggregate.Created):
        name: str
        token_hash: str
        scopes: list[str]
        permissions: list[str]
        business_lines: list[str]
        expires_at: datetime | None
        issuer: dict[str, Any]

    @event(Issued)
    def __init__(self, name: str, token_hash: str, scopes: list[str], permissions: list[str],
                 business_lines: list[str], expires_at: datetime | None, issuer: dict[str, Any]):
        """``issuer`` freezes who stands behind the token: their actor, roles, department and
        data scope (``jurisdiction`` None = unrestricted). A token never sees more than its
        issuer, and field rules aimed at the issuer's roles apply to it too."""
        self.name, self.token_hash, self.scopes = name, token_hash, scopes
        self.permissions, self.business_lines, self.expires_at = permissions, business_lines, expires_at
        self.issuer = issuer
        self.revoked = False

    def revoke(self, reason: str) -> None:
        if self.revoked:
            raise RuleViolationError("the API token is already revoked")
        self._revoked(reason=reason)

    class Revoked(LedgerAggregate.Event):
        reason: str

    @event(Revoked)
    def _revoked(self, reason: str) -> None:
        self.revoked = True
