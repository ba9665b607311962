"""Delegations (ADR 0016): an operator lets an OA or mobile client read their todo and act on
their tasks; they, or an access administrator, revoke it. The client then sends
``X-On-Behalf-Of`` (interfaces/api/delegation.py)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.access.delegation import SCOPES
from domain.shared.errors import NotFoundError, PermissionDeniedError
from interfaces.api.deps import (
    ACCESS_PROJECTIONS,
    Acting,
    ContainerDep,
    CurrentPolicy,
    consistent_with,
    requires,
    security_barrier,
)
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.schemas import CommandAccepted, Page, accepted

router = APIRouter(prefix="/api/v1", tags=["delegations"])
Consistent = Depends(consistent_with(*ACCESS_PROJECTIONS))
TokenAdmin = Annotated[Policy, Depends(requires("access.api_tokens.manage"))]
Limit = Annotated[int, Query(ge=1, le=200)]
Scope = Literal["todo.read", "tasks.act"]
NOT_FOUND: Responses = {404: {"description": "No such delegation (within your reach)."}}
OPERATORS_ONLY = "only an operator's own session manages their delegations; API tokens cannot"


class DelegationCreate(BaseModel):
    api_token_id: UUID = Field(description="The client: an API token issued with `oa.act_on_behalf` "
                                           "(GET /api/v1/me/delegation-clients lists them)")
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES),
                                description="`todo.read`: list your todo and read your flows; `tasks.act`: "
                                            "approve, reject, return, transfer, remark ... as you")
    expires_at: datetime | None = Field(None, description="At most 365 days ahead; omitted: 365 days")


class DelegationPublic(BaseModel):
    id: UUID
    operator: str = Field(examples=["operator:zhang.wei"])
    operator_id: UUID
    api_token_id: UUID
    api_token_name: str | None = Field(description="The client's name (null if the token is unknown)")
    scopes: list[str]
    expires_at: datetime
    status: Literal["active", "expired", "revoked"]
    granted_by: str
    granted_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None
    version: int


class DelegationsPage(Page):
    items: list[DelegationPublic]


class DelegationClientPublic(BaseModel):
    id: UUID
    name: str
    expires_at: datetime | None


def _public(row: dict[str, Any]) -> DelegationPublic:
    now = datetime.now(timezone.utc)
    status = "revoked" if row["revoked"] else "expired" if row["expires_at"] <= now else "active"
    return DelegationPublic(**{k: v for k, v in row.items() if k in DelegationPublic.model_fields}, status=status)


def _page(rows: list[dict[str, Any]], limit: int) -> DelegationsPage:
    items = rows[:limit]
    nxt = encode_cursor([items[-1]["created_at"].isoformat(), str(items[-1]["id"])]) if len(rows) > limit else None
    return DelegationsPage(items=[_public(r) for r in items], next_cursor=nxt)


def _operator_id(policy: Policy) -> UUID:
    p = policy.principal
    if p.kind != "operator" or p.operator_id is None:
        raise PermissionDeniedError(OPERATORS_ONLY)
    return p.operator_id


def _secured(container: ContainerDep, response: Response, result: Any) -> CommandAccepted:
    security_barrier(container, result.position)  # a revocation counts from the next request
    return accepted(result, response)


@router.post("/me/delegations", status_code=201, response_model=CommandAccepted,
             summary="Let an OA or mobile client read your todo and/or act on your tasks (granting again replaces "
                     "the scopes and expiry).",
             responses={403: {"description": OPERATORS_ONLY},
                        422: {"description": "Unknown scopes, an expiry in the past or beyond 365 days, or a "
                                             "client that does not accept delegations (`api_token_id`)."}})
def grant(body: DelegationCreate, container: ContainerDep, policy: CurrentPolicy, ctx: Acting,
          response: Response) -> CommandAccepted:
    result = container.access.grant_delegation(ctx, _operator_id(policy), body.api_token_id, list(body.scopes),
                                               body.expires_at)
    response.headers["Location"] = f"{router.prefix}/me/delegations/{result.id}"
    return _secured(container, response, result)


@router.get("/me/delegations", response_model=DelegationsPage, dependencies=[Consistent], responses=INVALID_CURSOR,
            summary="Your delegations (active, expired and revoked), oldest first (keyset-paged).")
def mine(container: ContainerDep, policy: CurrentPolicy, cursor: str | None = None,
         limit: Limit = 50) -> DelegationsPage:
    operator_id = _operator_id(policy)
    rows = container.access_queries.delegations({"all_departments": True, "departments": []},
                                                operator_id=operator_id, after=typed_cursor(cursor, "at!", "id"),
                                                limit=limit + 1)
    return _page(rows, limit)


@router.get("/me/delegation-clients", response_model=list[DelegationClientPublic], dependencies=[Consistent],
            summary="The OA and mobile clients you may delegate to.", responses={403: {"description": OPERATORS_ONLY}})
def clients(container: ContainerDep, policy: CurrentPolicy) -> list[DelegationClientPublic]:
    _operator_id(policy)
    return [DelegationClientPublic(**r) for r in container.access_queries.delegation_clients()]


@router.delete("/me/delegations/{delegation_id}", response_model=CommandAccepted, responses=NOT_FOUND,
               summary="Revoke one of your delegations: the client fails from its next request.")
def revoke_mine(delegation_id: UUID, container: ContainerDep, policy: CurrentPolicy, ctx: Acting,
                response: Response) -> CommandAccepted:
    operator_id = _operator_id(policy)
    # The grant's owner from the event store: never from a read model that may not have it yet.
    if container.access.delegation(delegation_id).operator_id != operator_id:
        raise NotFoundError(f"delegation {delegation_id} does not exist")
    result = container.access.revoke_delegation(ctx, delegation_id, "revoked by the operator")
    return _secured(container, response, result)


@router.get("/access/delegations", response_model=DelegationsPage, dependencies=[Consistent],
            responses=INVALID_CURSOR, summary="Delegations of operators in your data scope (keyset-paged).")
def list_all(container: ContainerDep, policy: TokenAdmin, operator_id: UUID | None = None, cursor: str | None = None,
             limit: Limit = 50) -> DelegationsPage:
    rows = container.access_queries.delegations(policy.scope_params(), operator_id=operator_id,
                                                after=typed_cursor(cursor, "at!", "id"), limit=limit + 1)
    return _page(rows, limit)


@router.delete("/access/delegations/{delegation_id}", response_model=CommandAccepted, responses=NOT_FOUND,
               summary="Revoke a delegation of an operator in your data scope.")
def revoke(delegation_id: UUID, container: ContainerDep, policy: TokenAdmin, ctx: Acting,
           response: Response) -> CommandAccepted:
    grant_ = container.access.delegation(delegation_id)
    operator = container.access_queries.operator(grant_.operator_id)
    if operator is None or not policy.sees(department_id=operator["department_id"]):
        raise NotFoundError(f"delegation {delegation_id} does not exist")
    result = container.access.revoke_delegation(ctx, delegation_id, "revoked by an administrator")
    return _secured(container, response, result)
