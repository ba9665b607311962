"""access: departments (the organisation tree)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.access.department import DEPARTMENT_KINDS
from domain.shared.errors import NotFoundError, PermissionDeniedError
from interfaces.api.deps import (
    ACCESS_PROJECTIONS,
    Acting,
    ContainerDep,
    ExpectedVersion,
    consistent_with,
    requires,
    security_barrier,
)
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import ApiProblem, Responses
from interfaces.api.schemas import CommandAccepted, Page, accepted
from projections.access.departments import DepartmentQueries

router = APIRouter(prefix="/api/v1/access/departments", tags=["access"])
RESOURCE = "access.department"
Consistent = Depends(consistent_with(*ACCESS_PROJECTIONS))
Viewer = Annotated[Policy, Depends(requires("access.departments.view"))]
Manager = Annotated[Policy, Depends(requires("access.departments.manage"))]

NOT_FOUND: Responses = {404: {"description": "The department does not exist or lies outside your data scope."}}
STALE: Responses = {409: {"description": "`conflict`: the department changed since you read it (If-Match)."}}
Name = Annotated[str, Field(min_length=1, max_length=100, examples=["Shanghai Branch"])]


class DepartmentCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$", examples=["SH01"],
                      description="Unique and permanent; the department's id derives from it")
    name: Name
    kind: str = Field(examples=["branch"], description="One of: " + ", ".join(DEPARTMENT_KINDS))
    parent_id: UUID | None = Field(None, description="Parent department; null for the root (head office)")


class DepartmentRename(BaseModel):
    name: Name


class DepartmentMove(BaseModel):
    parent_id: UUID | None = Field(description="New parent; null makes it a root")


class DepartmentClose(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class DepartmentPublic(BaseModel):
    id: UUID
    code: str
    name: str | None = Field(None, description="Absent when a field rule hides it")
    kind: str
    parent_id: UUID | None
    closed: bool
    version: int
    created_at: datetime
    updated_at: datetime


class DepartmentPage(Page):
    items: list[DepartmentPublic]


def _queries(container: ContainerDep) -> DepartmentQueries:
    return DepartmentQueries(container.readmodels)


Queries = Annotated[DepartmentQueries, Depends(_queries)]


def _visible(policy: Policy, queries: DepartmentQueries, department_id: UUID, what: str = "department",
             field: str | None = None) -> dict:
    row = queries.get(department_id)
    if row is None or not policy.sees(department_id=department_id):
        raise NotFoundError(f"{what} {department_id} does not exist", field=field)
    return row


def _done(container: ContainerDep, response: Response, result) -> CommandAccepted:
    security_barrier(container, result.position)  # scopes expand over the tree
    return accepted(result, response)


@router.post("", status_code=201, response_model=CommandAccepted, summary="Create a department.",
             responses={404: {"description": "The parent department does not exist or lies outside your scope."},
                        409: {"description": "The code is taken."}, 422: {"description": "Unknown kind."}})
def create_department(body: DepartmentCreate, container: ContainerDep, policy: Manager, queries: Queries,
                      ctx: Acting, response: Response) -> CommandAccepted:
    if body.parent_id is not None:
        _visible(policy, queries, body.parent_id, "parent department", "parent_id")
    elif policy.principal.departments is not None:
        raise ApiProblem(403, "forbidden", "only operators with an unrestricted scope may create root departments",
                         field="parent_id")
    result = container.access.create_department(ctx, body.code, body.name, body.kind, body.parent_id)
    response.headers["Location"] = f"{router.prefix}/{result.id}"
    return _done(container, response, result)


@router.patch("/{department_id}", response_model=CommandAccepted,
              summary="Rename a department (send the ETag you read as If-Match).",
              responses={**NOT_FOUND, **STALE, 422: {"description": "Closed, or the name is unchanged."}})
def rename_department(department_id: UUID, body: DepartmentRename, container: ContainerDep, policy: Manager,
                      queries: Queries, ctx: Acting, expected: ExpectedVersion, response: Response) -> CommandAccepted:
    _visible(policy, queries, department_id)
    return accepted(container.access.rename_department(ctx, department_id, body.name, expected), response)


@router.post("/{department_id}/move", response_model=CommandAccepted,
             summary="Move a department under another parent (refused if it would create a cycle).",
             responses={**NOT_FOUND, **STALE, 422: {"description": "The move would create a cycle."}})
def move_department(department_id: UUID, body: DepartmentMove, container: ContainerDep, policy: Manager,
                    queries: Queries, ctx: Acting, expected: ExpectedVersion, response: Response) -> CommandAccepted:
    _visible(policy, queries, department_id)
    if policy.principal.departments is not None:
        # A scoped manager moves only what lies wholly in their scope, and never to the root:
        # otherwise a move could pull someone else's sub-departments into their view.
        if body.parent_id is None:
            raise PermissionDeniedError("only operators with an unrestricted scope may move a department to the root",
                                        field="parent_id")
        policy.require_scope_covers(queries.subtree([department_id]))
    if body.parent_id is not None:
        _visible(policy, queries, body.parent_id, "parent department", "parent_id")
    return _done(container, response, container.access.move_department(ctx, department_id, body.parent_id, expected))


@router.post("/{department_id}/close", response_model=CommandAccepted,
             summary="Close a department that has no open sub-departments.",
             responses={**NOT_FOUND, **STALE, 422: {"description": "It still has open sub-departments."}})
def close_department(department_id: UUID, body: DepartmentClose, container: ContainerDep, policy: Manager,
                     queries: Queries, ctx: Acting, expected: ExpectedVersion, response: Response) -> CommandAccepted:
    _visible(policy, queries, department_id)
    result = container.access.close_department(ctx, department_id, body.reason, queries.open_children(department_id),
                                               expected)
    return _done(container, response, result)


@router.get("", response_model=DepartmentPage, dependencies=[Consistent], response_model_exclude_unset=True,
            summary="List the departments in your data scope, sorted by name, keyset-paginated.",
            responses=INVALID_CURSOR)
def list_departments(queries: Queries, policy: Viewer,
                     parent_id: UUID | None = None,
                     kind: str | None = None,
                     q: Annotated[str | None, Query(max_length=100,
                                                    description="Name contains / code starts with")] = None,
                     cursor: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> DepartmentPage:
    after = typed_cursor(cursor, "id")
    key = after[0] if after else None
    scope = policy.principal.departments
    rows = queries.list(parent_id=parent_id, kind=kind, q=q, after=key, limit=limit + 1,
                        scope=list(scope) if scope is not None else None)
    items = [DepartmentPublic(**r) for r in policy.present_all(RESOURCE, rows[:limit])]
    nxt = encode_cursor([str(items[-1].id)]) if len(rows) > limit else None
    return DepartmentPage(items=items, next_cursor=nxt)


@router.get("/{department_id}", response_model=DepartmentPublic, dependencies=[Consistent],
            response_model_exclude_unset=True,
            summary="One department (ETag = its version).", responses=NOT_FOUND)
def get_department(department_id: UUID, queries: Queries, policy: Viewer, response: Response) -> DepartmentPublic:
    row = _visible(policy, queries, department_id)
    response.headers["ETag"] = f'"{row["version"]}"'
    return DepartmentPublic(**policy.present(RESOURCE, row))
