"""Authentication: login, refresh, logout, and what the caller may see and do."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from domain.shared.context import CommandContext
from domain.shared.errors import AuthenticationError, PermissionDeniedError
from interfaces.api.deps import ContainerDep, CurrentPolicy, address_rule, login_rule, security_barrier
from interfaces.api.problems import ApiProblem

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["auth"])


class Login(BaseModel):
    login_name: str = Field(min_length=1, max_length=64, examples=["zhang.wei"])
    password: str = Field(min_length=1, max_length=256)


class Refresh(BaseModel):
    session_id: UUID
    refresh_token: str = Field(min_length=1, max_length=200)


class Tokens(BaseModel):
    session_id: UUID
    access_token: str = Field(description="Send as `Authorization: Bearer <access_token>`")
    refresh_token: str = Field(description="Exchange at /api/v1/auth/refresh before it expires")
    token_type: str = "bearer"
    access_expires_at: datetime
    refresh_expires_at: datetime


class Me(BaseModel):
    actor: str = Field(examples=["operator:zhang.wei"])
    kind: str = Field(description="operator, api_token, bootstrap, or delegated (an API token acting for the "
                                  "operator named by `actor`, ADR 0016)")
    via: str | None = Field(None, description="For delegated requests: the API token acting for you")
    display_name: str | None
    department_id: UUID | None
    roles: list[str]
    permissions: list[str]
    menus: list[dict[str, Any]] = Field(description="Menus with the action keys you may use, for rendering a UI")
    business_lines: list[str] | None = Field(description="null: every business line")
    jurisdiction: list[dict[str, Any]]
    departments_in_scope: list[UUID] | None = Field(description="null: every department")
    investor_accounts: list[str]


def _anonymous(request: Request) -> CommandContext:
    return CommandContext(actor="anonymous", correlation_id=request.state.correlation_id)


def _issued(tokens: Any) -> Tokens:
    return Tokens(session_id=tokens.session_id, access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                  access_expires_at=tokens.access_expires_at, refresh_expires_at=tokens.refresh_expires_at)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/login", response_model=Tokens, summary="Log in with a password; returns expiring tokens.",
             responses={401: {"description": "Wrong credentials (`invalid_credentials`) or `account_disabled`."},
                        429: {"description": "`too_many_attempts`: failed logins for this login name or from "
                                             "this address; retry after `Retry-After` seconds."}})
def login(body: Login, request: Request, container: ContainerDep) -> Tokens:
    # A growing delay per (login name, client address) and per client address, never a lockout
    # (ADR 0011): a guesser elsewhere cannot hold the real user back, and the throttled answer
    # costs the same whether or not the login name exists.
    address = client_address(request)
    name = body.login_name.lower()
    subjects = [(login_rule(container), f"{name}|{address}"), (address_rule(container), address)]
    wait = container.throttle.retry_after(subjects)
    if wait:
        raise ApiProblem(429, "too_many_attempts", f"too many failed logins; retry in {wait} s",
                         headers={"Retry-After": str(wait)})
    ctx = CommandContext(actor="anonymous", correlation_id=request.state.correlation_id)
    try:
        tokens = container.access.login(ctx, body.login_name, body.password)
    except AuthenticationError as exc:
        if exc.code == "invalid_credentials":
            container.throttle.fail(subjects)
            log.warning("login failed from %s", address)
        raise
    container.throttle.reset(login_rule(container), f"{name}|{address}")
    security_barrier(container, tokens.position)
    return _issued(tokens)


@router.post("/auth/refresh", response_model=Tokens, summary="Exchange a refresh token for new tokens.")
def refresh(body: Refresh, request: Request, container: ContainerDep) -> Tokens:
    tokens = container.access.refresh_session(_anonymous(request), body.session_id, body.refresh_token)
    security_barrier(container, tokens.position)
    return _issued(tokens)


@router.post("/auth/logout", status_code=204, summary="Revoke the current session's tokens.")
def logout(request: Request, container: ContainerDep, policy: CurrentPolicy) -> None:
    session_id = policy.principal.session_id
    if session_id is None:
        raise PermissionDeniedError("only operator sessions can log out; revoke API tokens instead")
    result = container.access.revoke_session(policy.context(request.state.correlation_id), session_id, "logout")
    security_barrier(container, result.position)


@router.get("/me", response_model=Me, summary="Who you are and what you may see and do.")
def me(policy: CurrentPolicy) -> Me:
    p = policy.principal
    return Me(actor=p.actor, kind=p.kind, via=p.via, display_name=p.display_name, department_id=p.department_id,
              roles=sorted(p.roles), permissions=sorted(p.permissions), menus=policy.menus(),
              business_lines=sorted(p.business_lines) if p.business_lines is not None else None,
              jurisdiction=list(p.jurisdiction),
              departments_in_scope=sorted(p.departments) if p.departments is not None else None,
              investor_accounts=sorted(p.investor_accounts))
