"""Delegations: an operator grants an OA or mobile client (an API token holding
``oa.act_on_behalf``) the right to read their todo and act on their tasks; the operator or an
access administrator revokes it (ADR 0016)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from application.shared.base import CommandResult, Loader, command
from domain.access.credentials import ApiToken
from domain.access.delegation import ACT_ON_BEHALF, DelegationGrant, checked_terms, grant_id
from domain.access.operator import Operator
from domain.shared.errors import NotFoundError, RuleViolationError


class Delegations:
    # From the host (LedgerApplication, Auth):
    load: Loader
    exists: Callable[[UUID], bool]
    save_one: Callable[[Any], CommandResult]
    now: Callable[[], datetime]

    def delegation(self, delegation_id: UUID) -> DelegationGrant:
        return self.load(delegation_id, DelegationGrant, what=f"delegation {delegation_id}")

    def _client(self, api_token_id: UUID, now: datetime) -> ApiToken:
        """The token a delegation names: live, and issued to act on behalf. Every other case answers
        the same words, so the answer tells nothing about tokens the operator may not see."""
        refused = RuleViolationError(f"no OA or mobile client {api_token_id} accepts delegations",
                                     field="api_token_id")
        try:
            token = self.load(api_token_id, ApiToken)
        except NotFoundError:
            raise refused from None
        expired = token.expires_at is not None and token.expires_at <= now
        if token.revoked or expired or ACT_ON_BEHALF not in token.permissions:
            raise refused
        return token

    @command
    def grant_delegation(self, operator_id: UUID, api_token_id: UUID, scopes: list[str],
                         expires_at: datetime | None) -> CommandResult:
        """Grant, or grant again (after a revocation, or with other scopes or expiry): one grant per
        operator and client."""
        now = self.now()
        chosen, until = checked_terms(scopes, expires_at, now)
        operator = self.load(operator_id, Operator)
        if operator.status != "active":
            raise RuleViolationError("a disabled operator delegates nothing")
        self._client(api_token_id, now)
        existing = grant_id(operator_id, api_token_id)
        if self.exists(existing):
            grant = self.load(existing, DelegationGrant)
            grant.renew(chosen, until)
        else:
            grant = DelegationGrant.grant(operator_id, f"operator:{operator.login_name}", api_token_id, chosen, until)
        return self.save_one(grant)

    @command
    def revoke_delegation(self, delegation_id: UUID, reason: str) -> CommandResult:
        grant = self.delegation(delegation_id)
        grant.revoke(reason)
        return self.save_one(grant)
