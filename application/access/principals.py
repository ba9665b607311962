"""Turns a bearer token into a Principal, from the access read models.

Disabled operators, revoked sessions and revoked API tokens fail on the very next request:
the lookup happens on every request, and the commands that change them return only once
the read model has applied them (ADR 0006)."""
from __future__ import annotations

import hmac
from datetime import datetime, timezone
from uuid import UUID

from application.access.policy import Principal
from application.access.secrets import ACCESS_PREFIX, API_PREFIX, token_hash
from domain.shared.errors import AuthenticationError
from projections.access.queries import AccessQueries


class PrincipalResolver:
    def __init__(self, queries: AccessQueries, bootstrap_token: str):
        self.queries = queries
        self._bootstrap = bootstrap_token.encode()

    def resolve(self, token: str) -> Principal:
        if hmac.compare_digest(token.encode(), self._bootstrap):
            return Principal.bootstrap()
        if len(token) > 200 or not token.isascii():
            raise AuthenticationError("malformed bearer token", code="invalid_token")
        now = datetime.now(timezone.utc)
        if token.startswith(ACCESS_PREFIX):
            return self._operator(token, now)
        if token.startswith(API_PREFIX):
            return self._api_token(token, now)
        raise AuthenticationError("the bearer token is not valid", code="invalid_token")

    def _operator(self, token: str, now: datetime) -> Principal:
        row = self.queries.session_by_access_hash(token_hash(token))
        if row is None or row["revoked"]:
            raise AuthenticationError("the bearer token is not valid", code="invalid_token")
        if row["access_expires_at"] <= now:
            raise AuthenticationError("the access token has expired; refresh it", code="token_expired")
        if row["status"] != "active":
            raise AuthenticationError("this operator is disabled", code="account_disabled")
        jurisdiction = list(row["jurisdiction"] or [])
        return Principal(
            actor=f"operator:{row['login_name']}", kind="operator",
            permissions=frozenset(self.queries.permissions_of(list(row["roles"]))),
            business_lines=frozenset(row["business_lines"]),
            departments=frozenset(self.queries.expand_jurisdiction(jurisdiction)),
            investor_accounts=frozenset(row["investor_accounts"]), roles=frozenset(row["roles"]),
            operator_id=row["id"], department_id=row["department_id"], display_name=row["display_name"],
            session_id=row["session_id"], jurisdiction=tuple(jurisdiction))

    def _api_token(self, token: str, now: datetime) -> Principal:
        row = self.queries.api_token_by_hash(token_hash(token))
        if row is None or row["revoked"]:
            raise AuthenticationError("the API token is not valid", code="invalid_token")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise AuthenticationError("the API token has expired", code="token_expired")
        issuer = row["issuer"]
        if issuer.get("operator_id") and row["issuer_status"] != "active":
            raise AuthenticationError("the operator who issued this API token is disabled", code="invalid_token")
        # A token acts within its own lines and its issuer's data scope, and field rules aimed
        # at the issuer's roles and department apply to it as well.
        jurisdiction = issuer.get("jurisdiction")
        departments = None if jurisdiction is None else frozenset(self.queries.expand_jurisdiction(jurisdiction))
        return Principal(actor=f"api_token:{row['id']}", kind="api_token", permissions=frozenset(row["permissions"]),
                         business_lines=frozenset(row["business_lines"]), departments=departments,
                         investor_accounts=frozenset(issuer.get("investor_accounts", [])),
                         roles=frozenset(issuer.get("roles", [])),
                         department_id=UUID(issuer["department_id"]) if issuer.get("department_id") else None,
                         scopes=frozenset(row["scopes"]), display_name=row["name"])
