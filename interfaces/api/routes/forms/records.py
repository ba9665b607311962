"""Form records (表单记录): started pinned to a published version, saved as JSON Patches with the
old values, listed within the caller's lines and scope."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.shared.errors import PermissionDeniedError
from interfaces.api.deps import ContainerDep, ExpectedVersion
from interfaces.api.pagination import encode_cursor, typed_cursor
from interfaces.api.routes.forms.common import (
    PREFIX,
    RECORD_READS,
    Code,
    RecordEditor,
    RecordViewer,
    _business_type_line,
)
from interfaces.api.schemas import CommandAccepted, FundAccount, Page, accepted
from interfaces.bootstrap import Container

router = APIRouter(prefix=PREFIX, tags=["forms"])


class RecordStart(BaseModel):
    business_type: Code
    subject: str = Field(max_length=32)
    data: dict[str, Any]
    version: int | None = Field(None, ge=1, description="Form version to pin; default the latest")
    fund_account: FundAccount | None = None
    node: str | None = Field(None, max_length=64)


class RecordSave(BaseModel):
    data: dict[str, Any]
    node: str | None = Field(None, max_length=64)


class RecordPublic(BaseModel):
    id: UUID
    business_type: str
    form_version: int
    subject: str
    business_line: str
    fund_account: str | None
    department_id: UUID | None
    data: dict[str, Any]
    node: str | None
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class RecordPage(Page):
    items: list[RecordPublic]


class RecordChange(BaseModel):
    record_version: int
    seq: int
    kind: str = Field(description="added, changed or removed")
    path: str = Field(examples=["rates[id=r2].rate"])
    old_value: Any = None
    new_value: Any = None
    node: str | None
    actor: str
    occurred_at: datetime


def _record(container: Container, policy: Policy, record_id: UUID) -> dict[str, Any]:
    return policy.require_scoped(f"form record {record_id}", container.forms_queries.record(record_id))


@router.post("/records", status_code=201, response_model=CommandAccepted,
             summary="Start a form record pinned to a version (validated; 422 lists every field error).")
def start_record(body: RecordStart, request: Request, container: ContainerDep, policy: RecordEditor,
                 response: Response) -> CommandAccepted:
    line = _business_type_line(container, policy, body.business_type)
    department = policy.principal.department_id
    if body.fund_account:
        known = container.forms.customer(body.fund_account)
        department = known.row["department_id"] if known else department
    if not policy.sees(business_line=line, department_id=department, investor_account=body.fund_account):
        raise PermissionDeniedError("the record would fall outside your data scope", field="fund_account")
    ctx = policy.context(request.state.correlation_id, line)
    result = container.forms.start_record(ctx, body.business_type, body.subject, body.data, version=body.version,
                                          fund_account=body.fund_account, department_id=department, node=body.node)
    response.headers["Location"] = f"{router.prefix}/records/{result.id}"
    return accepted(result, response)


@router.put("/records/{record_id}", response_model=CommandAccepted,
            summary="Save new data; the change is recorded as a JSON Patch with the old values.")
def save_record(record_id: UUID, body: RecordSave, request: Request, container: ContainerDep, policy: RecordEditor,
                expected: ExpectedVersion, response: Response) -> CommandAccepted:
    record = container.forms.record(record_id)  # the aggregate: saving right after starting must work
    policy.require_scoped(f"form record {record_id}", record)
    ctx = policy.context(request.state.correlation_id, record.business_line)
    return accepted(container.forms.save_record(ctx, record_id, body.data, body.node, expected), response)


@router.get("/records", response_model=RecordPage, dependencies=[RECORD_READS],
            summary="Form records in your lines and scope, newest first.")
def list_records(container: ContainerDep, policy: RecordViewer, business_type: str | None = None,
                 cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> RecordPage:
    after = typed_cursor(cursor, "id")
    after_id = after[0] if after else None
    rows = container.forms_queries.records(policy.scope_params(), business_type=business_type, after=after_id,
                                           limit=limit + 1)
    items = [RecordPublic(**r) for r in rows[:limit]]
    return RecordPage(items=items, next_cursor=encode_cursor([str(items[-1].id)]) if len(rows) > limit else None)


@router.get("/records/{record_id}", response_model=RecordPublic, dependencies=[RECORD_READS],
            summary="One form record (ETag = its version).")
def get_record(record_id: UUID, container: ContainerDep, policy: RecordViewer, response: Response) -> RecordPublic:
    row = _record(container, policy, record_id)
    response.headers["ETag"] = f'"{row["version"]}"'
    return RecordPublic(**row)


@router.get("/records/{record_id}/changes", dependencies=[RECORD_READS],
            response_model=list[RecordChange], responses={404: {"description": "No such record in your scope"}},
            summary="Every added / changed / removed field and sub-table row (rows by id), per save.")
def record_changes(record_id: UUID, container: ContainerDep, policy: RecordViewer) -> list[dict[str, Any]]:
    _record(container, policy, record_id)
    return container.forms_queries.changes(record_id)
