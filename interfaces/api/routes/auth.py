"""Authentication: login, refresh, logout, and what the caller may see and do."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from domain.shared.context import CommandContext
from domain.shared.errors import PermissionDeniedError
from interfaces.api.deps import ContainerDep, CurrentPolicy, security_barrier

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
    kind: str = Field(description="operator, api_token or bootstrap")
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


@router.post("/auth/login", response_model=Tokens, summary="Log in with a password; returns expiring tokens.",
             responses={401: {"description": "Wrong credentials (`invalid_credentials`), `account_locked` after "
                                             "5 failures (15 minutes) or `account_disabled`."}})
def login(body: Login, request: Request, container: ContainerDep) -> Tokens:
    ctx = CommandContext(actor=f"operator:{body.login_name}", correlation_id=request.state.correlation_id)
    tokens = container.access.login(ctx, body.login_name, body.password)
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
    return Me(actor=p.actor, kind=p.kind, display_name=p.display_name, department_id=p.department_id,
              roles=sorted(p.roles), permissions=sorted(p.permissions), menus=policy.menus(),
              business_lines=sorted(p.business_lines) if p.business_lines is not None else None,
              jurisdiction=list(p.jurisdiction),
              departments_in_scope=sorted(p.departments) if p.departments is not None else None,
              investor_accounts=sorted(p.investor_accounts))
