"""Turns a bearer token into a Principal, from the access read models — failing closed.

Disabled operators, revoked sessions and revoked API tokens fail on the very next request:
the lookup happens on every request, and the commands that change them return only once
the read model has applied them (ADR 0006).

An authorization decision never rests on a read model that is behind for its subject: the
read-model versions of the operator, the session or API token, the token's issuer and every
role they hold are compared with the event store's. If any is behind (an event not yet
applied, or parked because it could not be applied), that subject's requests are refused —
with a log line and a counter — instead of being answered from an older picture of their
rights (ADR 0011).

An API token is worth at most what its issuer holds now: its permissions, business lines,
data scope and investor accounts are the intersection of what it was issued with and what
the issuer holds at the moment of use.

An API token holding ``oa.act_on_behalf`` may act for an operator who granted it a delegation
(``on_behalf``, ADR 0016): the grant, the operator and their roles are checked the same way."""
from __future__ import annotations

import hmac
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar
from uuid import UUID

from application.access.delegated import act_for, may_delegate, token_id_of
from application.access.policy import Principal
from application.access.secrets import ACCESS_PREFIX, API_PREFIX, token_hash
from domain.access.delegation import DelegationRefusedError, grant_id, require_covers
from domain.access.operator import LOGIN_NAME
from domain.shared.errors import AuthenticationError, UnavailableError
from domain.shared.ids import natural_id

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a request waits for the access read models to catch up with its subject before it
# is refused (a command's own security barrier normally makes this wait zero).
CATCH_UP_SECONDS = 1.0


class AccessReadModel(Protocol):
    """What the resolver reads (projections/access/queries.py AccessQueries, given by the
    composition root): rows carry their read-model ``version`` for the freshness check."""

    def session_by_access_hash(self, access_hash: str) -> dict[str, Any] | None: ...

    def api_token_by_hash(self, token_hash: str) -> dict[str, Any] | None: ...

    def roles_of(self, roles: list[str]) -> list[dict[str, Any]]: ...

    def expand_jurisdiction(self, jurisdiction: list[dict[str, Any]]) -> set[UUID]: ...

    def operator_by_login(self, login_name: str) -> dict[str, Any] | None: ...

    def delegation(self, delegation_id: UUID) -> dict[str, Any] | None: ...


class PrincipalResolver:
    def __init__(self, queries: AccessReadModel, bootstrap_token: str,
                 stored_versions: Callable[[list[UUID]], dict[UUID, int]] | None = None,
                 parked: Callable[[list[UUID]], bool] | None = None):
        self.queries = queries
        self._bootstrap = bootstrap_token.encode()
        # Ports to the event store: the stored version of aggregates, and whether any of them
        # has events parked by the access projection. None in unit tests without a store.
        self._stored_versions = stored_versions
        self._parked = parked
        self.refusals: Counter[str] = Counter()  # read by the metrics collector

    def resolve(self, token: str) -> Principal:
        if hmac.compare_digest(token.encode(), self._bootstrap):
            return Principal.bootstrap()
        if len(token) > 200 or not token.isascii():
            raise AuthenticationError("malformed bearer token", code="invalid_token")
        now = datetime.now(timezone.utc)
        if token.startswith(ACCESS_PREFIX):
            return self._fresh(lambda: self._operator(token, now))
        if token.startswith(API_PREFIX):
            return self._fresh(lambda: self._api_token(token, now))
        raise AuthenticationError("the bearer token is not valid", code="invalid_token")

    def on_behalf(self, token: Principal, login_name: str, scope: str) -> Principal:
        """The principal of a request ``token`` (a resolved API token) makes for the operator
        ``login_name``, needing the delegation scope ``scope`` (ADR 0016). The grant and the
        operator's rights are read like every principal: refused unless the read models hold
        the stored versions of the grant, the operator and their roles, so a revocation counts
        from the moment it is stored, and a grant not yet applied is waited for."""
        if not may_delegate(token):
            raise DelegationRefusedError("only API tokens holding 'oa.act_on_behalf' act on an operator's behalf",
                                         code="delegation_not_permitted")
        now = datetime.now(timezone.utc)
        outcome = self._fresh(lambda: self._delegated(token, login_name, scope, now), who=token.actor)
        if isinstance(outcome, DelegationRefusedError):
            log.warning("refusing %s acting for operator:%s: %s", token.actor, login_name, outcome.code)
            raise outcome
        return outcome

    def _delegated(self, token: Principal, login_name: str, scope: str,
                   now: datetime) -> tuple[Principal | DelegationRefusedError, dict[UUID, int]]:
        # Unknown, disabled and never-granted operators answer alike: the client learns nothing
        # about login names nobody delegated to it.
        missing = DelegationRefusedError(f"operator:{login_name} has not delegated to this client",
                                         code="delegation_missing")
        token_id = token_id_of(token)
        if token_id is None or not LOGIN_NAME.fullmatch(login_name):
            return missing, {}
        operator_id = natural_id("operator", login_name)
        delegation_id = grant_id(operator_id, token_id)
        row = self.queries.operator_by_login(login_name)
        grant = self.queries.delegation(delegation_id)
        seen = {operator_id: row["version"] if row else 0, delegation_id: grant["version"] if grant else 0}
        if row is None or grant is None or row["status"] != "active" or grant["api_token_id"] != token_id:
            return missing, seen
        actor = f"operator:{login_name}"
        try:
            require_covers(grant["scopes"], grant["revoked"], grant["expires_at"], scope, now, actor)
        except DelegationRefusedError as refusal:
            return refusal, seen
        jurisdiction = list(row["jurisdiction"] or [])
        roles = list(row["roles"])
        operator = Principal(
            actor=actor, kind="operator", permissions=frozenset(self._roles(roles, seen)),
            business_lines=frozenset(row["business_lines"]),
            departments=frozenset(self.queries.expand_jurisdiction(jurisdiction)),
            investor_accounts=frozenset(row["investor_accounts"]), roles=frozenset(roles), operator_id=row["id"],
            department_id=row["department_id"], display_name=row["display_name"], jurisdiction=tuple(jurisdiction))
        return act_for(token, operator, grant["scopes"]), seen

    # -- fail closed --------------------------------------------------------------------------
    def _fresh(self, build: Callable[[], tuple[T, dict[UUID, int]]], who: str | None = None) -> T:
        """Build the principal from the read models; accept it only if every read-model version
        it rests on equals the stored version of that aggregate."""
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while True:
            principal, seen = build()
            behind = self._behind(seen)
            if not behind:
                return principal
            actor = who or str(getattr(principal, "actor", "?"))
            if self._parked is not None and self._parked(behind):
                self._refuse("parked", actor, behind)
                raise AuthenticationError(
                    "your access records could not be applied; an administrator must repair them "
                    "(ledgerflow projections status)", code="access_records_inconsistent")
            if time.monotonic() >= deadline:
                self._refuse("lagging", actor, behind)
                raise UnavailableError("your access records are being updated; retry shortly",
                                       code="read_model_lagging")
            time.sleep(0.05)

    def _behind(self, seen: dict[UUID, int]) -> list[UUID]:
        if self._stored_versions is None:
            return []
        stored = self._stored_versions(list(seen))
        return [i for i, version in seen.items() if stored.get(i, 0) != version]

    def _refuse(self, reason: str, actor: str, behind: list[UUID]) -> None:
        self.refusals[reason] += 1
        log.warning("refusing %s: access read models are %s for %s", actor, reason,
                    ", ".join(str(i) for i in behind))

    def _roles(self, keys: list[str], seen: dict[UUID, int]) -> set[str]:
        """Permissions of the held roles; records each role's read-model version (0 when the
        read model does not have it) so a role the store knows better fails the check."""
        rows = {r["key"]: r for r in self.queries.roles_of(keys)}
        permissions: set[str] = set()
        for key in keys:
            row = rows.get(key)
            seen[natural_id("role", key)] = row["version"] if row else 0
            if row:
                permissions |= set(row["permissions"])
        return permissions

    # -- operators --------------------------------------------------------------------------------
    def _operator(self, token: str, now: datetime) -> tuple[Principal, dict[UUID, int]]:
        row = self.queries.session_by_access_hash(token_hash(token))
        if row is None or row["revoked"]:
            raise AuthenticationError("the bearer token is not valid", code="invalid_token")
        if row["access_expires_at"] <= now:
            raise AuthenticationError("the access token has expired; refresh it", code="token_expired")
        seen = {row["session_id"]: row["session_version"], row["id"]: row["version"]}
        if row["status"] != "active":
            raise AuthenticationError("this operator is disabled", code="account_disabled")
        jurisdiction = list(row["jurisdiction"] or [])
        roles = list(row["roles"])
        principal = Principal(
            actor=f"operator:{row['login_name']}", kind="operator",
            permissions=frozenset(self._roles(roles, seen)),
            business_lines=frozenset(row["business_lines"]),
            departments=frozenset(self.queries.expand_jurisdiction(jurisdiction)),
            investor_accounts=frozenset(row["investor_accounts"]), roles=frozenset(roles),
            operator_id=row["id"], department_id=row["department_id"], display_name=row["display_name"],
            session_id=row["session_id"], jurisdiction=tuple(jurisdiction))
        return principal, seen

    # -- API tokens --------------------------------------------------------------------------------
    def _api_token(self, token: str, now: datetime) -> tuple[Principal, dict[UUID, int]]:
        row = self.queries.api_token_by_hash(token_hash(token))
        if row is None or row["revoked"]:
            raise AuthenticationError("the API token is not valid", code="invalid_token")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise AuthenticationError("the API token has expired", code="token_expired")
        seen = {row["id"]: row["version"]}
        issuer = row["issuer"]
        if not issuer.get("operator_id"):
            if issuer.get("actor") != "admin:bootstrap":
                # Only the bootstrap token issues tokens that answer to no operator; anything
                # else (a token minted by a token, before that was refused) is not honoured.
                raise AuthenticationError("the API token has no operator behind it", code="invalid_token")
            return self._bootstrap_token(row), seen
        issuer_id = UUID(issuer["operator_id"])
        seen[issuer_id] = row["issuer_version"] or 0
        if row["issuer_status"] != "active":
            raise AuthenticationError("the operator who issued this API token is disabled", code="invalid_token")
        # What the issuer holds now bounds what the token may do (security.md principle 4).
        roles = list(row["issuer_roles"] or [])
        permissions = set(row["permissions"]) & self._roles(roles, seen)
        lines = set(row["business_lines"]) & set(row["issuer_lines"] or [])
        current = self.queries.expand_jurisdiction(list(row["issuer_jurisdiction"] or []))
        frozen = issuer.get("jurisdiction")
        departments = current if frozen is None else current & self.queries.expand_jurisdiction(frozen)
        accounts = set(issuer.get("investor_accounts", [])) & set(row["issuer_accounts"] or [])
        principal = Principal(
            actor=f"api_token:{row['id']}", kind="api_token", permissions=frozenset(permissions),
            business_lines=frozenset(lines), departments=frozenset(departments),
            investor_accounts=frozenset(accounts), roles=frozenset(roles),
            department_id=row["issuer_department_id"], scopes=frozenset(row["scopes"]), display_name=row["name"],
            acting_for=issuer_id, issuer_actor=issuer.get("actor"))
        return principal, seen

    def _bootstrap_token(self, row: dict[str, Any]) -> Principal:
        """A token issued with the bootstrap token: what it was issued with (the bootstrap
        principal holds everything and cannot lose it)."""
        issuer = row["issuer"]
        jurisdiction = issuer.get("jurisdiction")
        return Principal(actor=f"api_token:{row['id']}", kind="api_token", permissions=frozenset(row["permissions"]),
                         business_lines=frozenset(row["business_lines"]),
                         departments=None if jurisdiction is None
                         else frozenset(self.queries.expand_jurisdiction(jurisdiction)),
                         investor_accounts=frozenset(issuer.get("investor_accounts", [])),
                         roles=frozenset(issuer.get("roles", [])), scopes=frozenset(row["scopes"]),
                         display_name=row["name"], issuer_actor="admin:bootstrap")
