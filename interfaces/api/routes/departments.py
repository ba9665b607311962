"""access: departments (the organisation tree)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from domain.access.department import DEPARTMENT_KINDS
from domain.shared.errors import NotFoundError
from interfaces.api.deps import Acting, ContainerDep, CurrentPrincipal, ExpectedVersion, consistent_with
from interfaces.api.pagination import decode_cursor, encode_cursor
from interfaces.api.problems import ApiProblem
from interfaces.api.schemas import CommandAccepted, Page, accepted
from projections.access.departments import DepartmentQueries, DepartmentsProjection

router = APIRouter(prefix="/api/v1/access/departments", tags=["access"])
ReadDepartments = Depends(consistent_with(DepartmentsProjection.name))

Name = Annotated[str, Field(min_length=1, max_length=100, examples=["Shanghai Branch"])]


class DepartmentCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$", examples=["SH01"])
    name: Name
    kind: str = Field(examples=["branch"], description="One of: " + ", ".join(DEPARTMENT_KINDS))
    parent_id: UUID | None = Field(None, description="Parent department; null for the root (head office)")


class DepartmentRename(BaseModel):
    name: Name


class DepartmentPublic(BaseModel):
    id: UUID
    code: str
    name: str
    kind: str
    parent_id: UUID | None
    closed: bool
    version: int
    created_at: datetime
    updated_at: datetime


class DepartmentPage(Page):
    items: list[DepartmentPublic]


def _queries(container: ContainerDep) -> DepartmentQueries:
    return DepartmentQueries(container.extras["readmodels"])


Queries = Annotated[DepartmentQueries, Depends(_queries)]


@router.post("", status_code=201, response_model=CommandAccepted, summary="Create a department.")
def create_department(body: DepartmentCreate, container: ContainerDep, ctx: Acting, response: Response) -> CommandAccepted:
    result = container.access.create_department(ctx, body.code, body.name, body.kind, body.parent_id)
    response.headers["Location"] = f"{router.prefix}/{result.id}"
    return accepted(result, response)


@router.patch("/{department_id}", response_model=CommandAccepted,
              summary="Rename a department (send the ETag you read as If-Match).",
              responses={409: {"description": "The department changed since you read it."}})
def rename_department(department_id: UUID, body: DepartmentRename, container: ContainerDep, ctx: Acting,
                      expected: ExpectedVersion, response: Response) -> CommandAccepted:
    return accepted(container.access.rename_department(ctx, department_id, body.name, expected), response)


@router.get("", response_model=DepartmentPage, dependencies=[ReadDepartments],
            summary="List departments, sorted by name, keyset-paginated.")
def list_departments(queries: Queries, _: CurrentPrincipal,
                     parent_id: UUID | None = None,
                     kind: str | None = None,
                     q: Annotated[str | None, Query(max_length=100, description="Name contains / code starts with")] = None,
                     cursor: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> DepartmentPage:
    after = decode_cursor(cursor, 2)
    try:
        key = (str(after[0]), UUID(str(after[1]))) if after else None
    except ValueError:
        raise ApiProblem(400, "invalid_cursor", "cursor is malformed", field="cursor") from None
    rows = queries.list(parent_id=parent_id, kind=kind, q=q, after=key, limit=limit + 1)
    items = [DepartmentPublic(**r) for r in rows[:limit]]
    nxt = encode_cursor([items[-1].name, str(items[-1].id)]) if len(rows) > limit else None
    return DepartmentPage(items=items, next_cursor=nxt)


@router.get("/{department_id}", response_model=DepartmentPublic, dependencies=[ReadDepartments],
            summary="One department (ETag = its version).")
def get_department(department_id: UUID, queries: Queries, _: CurrentPrincipal, response: Response) -> DepartmentPublic:
    row = queries.get(department_id)
    if row is None:
        raise NotFoundError(f"department {department_id} does not exist")
    response.headers["ETag"] = f'"{row["version"]}"'
    return DepartmentPublic(**row)
