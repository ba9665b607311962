"""Authentication: password logins with lockout, sessions with refresh, API tokens."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from application.access.secrets import (
    ACCESS_PREFIX,
    API_PREFIX,
    REFRESH_PREFIX,
    new_token,
    token_hash,
    verify_password,
)
from application.shared.base import CommandResult, Loader, command
from domain.access.catalogue import unknown_actions
from domain.access.credentials import ApiToken, Session
from domain.access.operator import LOGIN_NAME, Operator
from domain.shared.errors import AuthenticationError, NotFoundError, RuleViolationError
from domain.shared.ids import natural_id

FAILED_LOGIN = "invalid login name or password"
ACCESS_TTL = timedelta(minutes=30)
REFRESH_TTL = timedelta(hours=12)


@dataclass(frozen=True)
class IssuedTokens:
    session_id: UUID
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    position: int


@dataclass(frozen=True)
class IssuedApiToken:
    id: UUID
    token: str
    position: int


class Auth:
    # From the host (LedgerApplication, Catalogue):
    load: Loader
    exists: Callable[[UUID], bool]
    save_one: Callable[[Any], CommandResult]
    save_all: Callable[..., int]
    require_known: Callable[[str, list[str], str], None]

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)

    @command
    def login(self, login_name: str, password: str) -> IssuedTokens:
        """Failures are throttled at the boundary (a growing delay per login name and client
        address, infrastructure/redis/throttle.py), never by locking the account: a lockout
        would let anyone who knows a login name lock its owner out (ADR 0011)."""
        now = self.now()
        operator_id = natural_id("operator", login_name) if LOGIN_NAME.fullmatch(login_name) else None
        operator = self.load(operator_id, Operator) if operator_id and self.exists(operator_id) else None
        # Unknown names and wrong passwords cost one argon2 check each and answer the same
        # words, so neither the answer nor its timing tells which login names exist.
        valid = verify_password(operator.password_hash if operator else None, password)
        if operator is None or not valid:
            raise AuthenticationError(FAILED_LOGIN, code="invalid_credentials")
        if operator.status != "active":
            raise AuthenticationError("this operator is disabled", code="account_disabled")
        operator.record_login()
        access, refresh = new_token(ACCESS_PREFIX), new_token(REFRESH_PREFIX)
        session = Session(operator_id=operator.id, access_hash=token_hash(access), refresh_hash=token_hash(refresh),
                          access_expires_at=now + ACCESS_TTL, refresh_expires_at=now + REFRESH_TTL)
        position = self.save_all(operator, session)
        return IssuedTokens(session.id, access, refresh, now + ACCESS_TTL, now + REFRESH_TTL, position)

    @command
    def refresh_session(self, session_id: UUID, refresh_token: str) -> IssuedTokens:
        now = self.now()
        try:
            session = self.load(session_id, Session)
        except NotFoundError:
            raise AuthenticationError("unknown session", code="invalid_token", field="refresh_token") from None
        if session.refresh_hash != token_hash(refresh_token):
            raise AuthenticationError("the refresh token is not valid", code="invalid_token", field="refresh_token")
        operator = self.load(session.operator_id, Operator)
        if operator.status != "active":
            raise AuthenticationError("this operator is disabled", code="account_disabled")
        access, refresh = new_token(ACCESS_PREFIX), new_token(REFRESH_PREFIX)
        try:
            session.refresh(token_hash(access), token_hash(refresh), now + ACCESS_TTL, now + REFRESH_TTL, now)
        except RuleViolationError as exc:
            raise AuthenticationError(exc.message, code="session_ended", field="refresh_token") from None
        position = self.save_all(session)
        return IssuedTokens(session.id, access, refresh, now + ACCESS_TTL, now + REFRESH_TTL, position)

    @command
    def revoke_session(self, session_id: UUID, reason: str) -> CommandResult:
        session = self.load(session_id, Session)
        session.revoke(reason)
        return self.save_one(session)

    @command
    def issue_api_token(self, name: str, scopes: list[str], permissions: list[str], business_lines: list[str],
                        expires_at: datetime | None, issuer: dict[str, Any]) -> IssuedApiToken:
        unknown = unknown_actions(set(permissions))
        if unknown:
            raise RuleViolationError(f"unknown action keys: {', '.join(unknown)}", field="permissions")
        self.require_known("business_line", business_lines, "business_lines")
        token = new_token(API_PREFIX)
        api_token = ApiToken(name=name, token_hash=token_hash(token), scopes=sorted(set(scopes)),
                             permissions=sorted(set(permissions)), business_lines=sorted(set(business_lines)),
                             expires_at=expires_at, issuer=issuer)
        position = self.save_all(api_token)
        return IssuedApiToken(api_token.id, token, position)

    @command
    def revoke_api_token(self, token_id: UUID, reason: str) -> CommandResult:
        api_token = self.load(token_id, ApiToken)
        api_token.revoke(reason)
        return self.save_one(api_token)
