"""Delegated access: an operator lets one API token (an OA or mobile client) read their todo
and act on their tasks for them, until a date and until revoked (ADR 0016).

One grant per (operator, token): its id derives from the pair, so the authorization check
looks the grant up by id in the event store's versions and never rests on a read model that
has not applied it yet. Granting again after a revocation, or to change the scopes or the
expiry, records ``Renewed`` on the same grant."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import PermissionDeniedError, RuleViolationError
from domain.shared.ids import natural_id

TODO_READ = "todo.read"
TASKS_ACT = "tasks.act"
SCOPES = (TODO_READ, TASKS_ACT)
MAX_TERM = timedelta(days=365)
# The action key an API token must hold to act on anyone's behalf (domain/access/catalogue.py).
ACT_ON_BEHALF = "oa.act_on_behalf"


class DelegationRefusedError(PermissionDeniedError):
    """A delegated request the grants do not cover (403 with a precise ``code``)."""

    def __init__(self, message: str, *, code: str, field: str | None = "X-On-Behalf-Of"):
        super().__init__(message, field=field)
        self.code = code


def grant_id(operator_id: UUID, api_token_id: UUID) -> UUID:
    return natural_id("delegation", f"{operator_id}:{api_token_id}")


def checked_terms(scopes: Iterable[str], expires_at: datetime | None, now: datetime) -> tuple[list[str], datetime]:
    """The scopes, sorted and known, and the expiry: in the future and at most a year ahead
    (omitted: a year), so no grant outlives a yearly review."""
    chosen = sorted(set(scopes))
    if not chosen:
        raise RuleViolationError("grant at least one scope: " + ", ".join(SCOPES), field="scopes")
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise RuleViolationError(f"unknown scopes: {', '.join(unknown)} (known: {', '.join(SCOPES)})",
                                 field="scopes")
    if expires_at is None:
        return chosen, now + MAX_TERM
    if expires_at.tzinfo is None:
        raise RuleViolationError("expires_at must include a time zone", field="expires_at")
    if expires_at <= now:
        raise RuleViolationError("expires_at must lie in the future", field="expires_at")
    if expires_at > now + MAX_TERM:
        raise RuleViolationError(f"a delegation lasts at most {MAX_TERM.days} days", field="expires_at")
    return chosen, expires_at


class DelegationGrant(LedgerAggregate):
    class Granted(LedgerAggregate.Created):
        operator_id: UUID
        operator: str
        api_token_id: UUID
        scopes: list[str]
        expires_at: datetime

    @event(Granted)
    def __init__(self, operator_id: UUID, operator: str, api_token_id: UUID, scopes: list[str],
                 expires_at: datetime):
        """``operator`` is the granting operator's actor (operator:<login>): whom the token acts as."""
        self.operator_id, self.operator, self.api_token_id = operator_id, operator, api_token_id
        self.scopes, self.expires_at = scopes, expires_at
        self.revoked = False

    @classmethod
    def grant(cls, operator_id: UUID, operator: str, api_token_id: UUID, scopes: list[str],
              expires_at: datetime) -> DelegationGrant:
        return cls._create(cls.Granted, id=grant_id(operator_id, api_token_id), operator_id=operator_id,
                           operator=operator, api_token_id=api_token_id, scopes=scopes, expires_at=expires_at)

    def renew(self, scopes: list[str], expires_at: datetime) -> None:
        if not self.revoked and scopes == self.scopes and expires_at == self.expires_at:
            return  # granting the same again changes nothing
        self._renewed(scopes=scopes, expires_at=expires_at)

    class Renewed(LedgerAggregate.Event):
        scopes: list[str]
        expires_at: datetime

    @event(Renewed)
    def _renewed(self, scopes: list[str], expires_at: datetime) -> None:
        self.scopes, self.expires_at, self.revoked = scopes, expires_at, False

    def revoke(self, reason: str) -> None:
        if self.revoked:
            raise RuleViolationError("the delegation is already revoked")
        self._revoked(reason=reason)

    class Revoked(LedgerAggregate.Event):
        reason: str

    @event(Revoked)
    def _revoked(self, reason: str) -> None:
        self.revoked = True

    def status(self, now: datetime) -> str:
        if self.revoked:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


def require_covers(scopes: Iterable[str], revoked: bool, expires_at: datetime, scope: str, now: datetime,
                   operator: str) -> None:
    """The one rule a delegated request passes: an active, unexpired grant with the scope."""
    if revoked:
        raise DelegationRefusedError(f"{operator} has not delegated to this client", code="delegation_missing")
    if expires_at <= now:
        raise DelegationRefusedError(f"the delegation from {operator} expired at {expires_at.isoformat()}",
                                     code="delegation_expired")
    if scope not in scopes:
        raise DelegationRefusedError(f"the delegation from {operator} does not cover {scope!r}",
                                     code="delegation_scope_missing")
