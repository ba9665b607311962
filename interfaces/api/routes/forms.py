"""forms: business types with versioned forms, validation, data sources, customers, records."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.shared.errors import NotFoundError, PermissionDeniedError
from interfaces.api.deps import ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import decode_cursor, encode_cursor
from interfaces.api.problems import ApiProblem
from interfaces.api.schemas import CommandAccepted, FundAccount, Page, accepted

router = APIRouter(prefix="/api/v1/forms", tags=["forms"])
CATALOGUE, RECORDS = ("forms.catalogue",), ("forms.records",)
Viewer = Annotated[Policy, Depends(requires("forms.business_types.view"))]
Designer = Annotated[Policy, Depends(requires("forms.business_types.manage"))]
SourceAdmin = Annotated[Policy, Depends(requires("forms.data_sources.manage"))]
SourceUser = Annotated[Policy, Depends(requires("forms.data_sources.query"))]
RecordViewer = Annotated[Policy, Depends(requires("forms.records.view"))]
RecordEditor = Annotated[Policy, Depends(requires("forms.records.edit"))]
CustomerViewer = Annotated[Policy, Depends(requires("forms.customers.view"))]
Code = Annotated[str, Field(min_length=2, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")]
CUSTOMER = "forms.customer"


class BusinessTypeCreate(BaseModel):
    code: Code = Field(examples=["fee_rate_change"])
    name: str = Field(min_length=1, max_length=100, examples=["手续费率变更 Fee-rate change"])
    business_line: Code = Field(examples=["brokerage"])
    description: str = Field("", max_length=2000)
    subjects: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]] = Field(
        min_length=1, max_length=10, examples=[["individual", "institution"]],
        description="Customer subjects with a form each")


class Draft(BaseModel):
    form: dict[str, Any] = Field(description="JSON Schema 2020-12 with Formily-style x-* keys (see docs/forms.md)")
    check: bool = Field(False, description="Also report the draft's problems now (422) instead of at publish")


class Submission(BaseModel):
    subject: str = Field(max_length=32)
    data: dict[str, Any]
    context: dict[str, Any] = Field(default_factory=dict, description="initiator / ds values for expressions")


class Validated(BaseModel):
    valid: bool
    errors: list[dict[str, Any]] = Field(description="One per field: path (items.2.qty), pointer, rule, message")
    data: dict[str, Any] = Field(description="The data with computed values applied and hidden fields removed")


class DataSourceCreate(BaseModel):
    key: Code
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(static|customer|sql)$")
    config: dict[str, Any] = Field(default_factory=dict, examples=[{
        "sql": "SELECT fund_account, name FROM forms_customers WHERE account_manager = :manager",
        "timeout_ms": 500, "row_limit": 100, "cache_seconds": 60}])


class DataSourceQuery(BaseModel):
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


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


# -- business types ---------------------------------------------------------------------------
def _business_type(container: ContainerDep, policy: Policy, code: str) -> dict[str, Any]:
    """For reads: the read model (callers pass wait_for_position to read their writes)."""
    row = container.forms_queries.business_type(code)
    if row is None or not policy.sees_line(row["business_line"]):
        raise NotFoundError(f"business type {code!r} does not exist")
    return row


def _business_type_line(container: ContainerDep, policy: Policy, code: str) -> str:
    """For commands: the aggregate itself, so a command right after creating the business type
    never trips over a read model that has not caught up yet."""
    line = container.forms.business_type(code).business_line
    policy.require_line(f"business type {code!r}", line)
    return line


@router.post("/business-types", status_code=201, response_model=CommandAccepted, summary="Create a business type.")
def create_business_type(body: BusinessTypeCreate, request: Request, container: ContainerDep, policy: Designer,
                         response: Response) -> CommandAccepted:
    if not policy.sees_line(body.business_line):
        raise PermissionDeniedError(f"you do not work in business line {body.business_line!r}", field="business_line")
    ctx = policy.context(request.state.correlation_id, body.business_line)
    return accepted(container.forms.create_business_type(ctx, body.code, body.name, body.business_line,
                                                          body.description, body.subjects), response)


@router.get("/business-types", dependencies=[Depends(consistent_with(*CATALOGUE))],
            summary="Business types of your business lines, with their latest version.")
def list_business_types(container: ContainerDep, policy: Viewer) -> list[dict[str, Any]]:
    return container.forms_queries.business_types(policy.scope_params())


@router.get("/business-types/{code}", dependencies=[Depends(consistent_with(*CATALOGUE))],
            summary="One business type: drafts (designers only) and published versions.")
def get_business_type(code: str, container: ContainerDep, policy: Viewer, response: Response) -> dict[str, Any]:
    row = _business_type(container, policy, code)
    if not policy.can("forms.business_types.manage"):
        row.pop("drafts", None)
    row.pop("position", None)
    row["versions"] = container.forms_queries.versions(row["id"])
    response.headers["ETag"] = f'"{row["version"]}"'
    return row


@router.put("/business-types/{code}/drafts/{subject}", response_model=CommandAccepted,
            summary="Save the draft form of one subject (send the business type's ETag as If-Match).")
def save_draft(code: str, subject: str, body: Draft, request: Request, container: ContainerDep, policy: Designer,
               expected: ExpectedVersion, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _business_type_line(container, policy, code))
    return accepted(container.forms.save_draft(ctx, code, subject, body.form, expected, body.check), response)


@router.post("/business-types/{code}/publish", summary="Publish the drafts as the next version (never changes).",
             responses={422: {"description": "`invalid_form_schema`: every problem, with subject and field"}})
def publish(code: str, request: Request, container: ContainerDep, policy: Designer, expected: ExpectedVersion,
            response: Response) -> dict[str, Any]:
    ctx = policy.context(request.state.correlation_id, _business_type_line(container, policy, code))
    result, number = container.forms.publish(ctx, code, expected)
    return {**accepted(result, response).model_dump(mode="json"), "published_version": number}


@router.get("/business-types/{code}/versions/{number}", summary="A published version's forms.")
def get_version(code: str, number: int, container: ContainerDep, policy: Viewer) -> dict[str, Any]:
    _business_type_line(container, policy, code)
    forms = container.forms.business_type(code).published_version(number)["forms"]
    return {"code": code, "number": number, "forms": forms}


@router.post("/business-types/{code}/versions/{number}/validate", response_model=Validated,
             summary="Validate a submission: every error with its field path and the rule it broke.")
def validate_submission(code: str, number: int, body: Submission, container: ContainerDep,
                        policy: Viewer) -> Validated:
    _business_type_line(container, policy, code)
    data, errors = container.forms.check_submission(code, number, body.subject, body.data, body.context)
    return Validated(valid=not errors, errors=errors, data=data)


@router.get("/business-types/{code}/export", summary="Export a business type (latest version, else drafts).")
def export(code: str, container: ContainerDep, policy: Designer) -> dict[str, Any]:
    _business_type_line(container, policy, code)
    bt = container.forms.business_type(code)
    forms = bt.versions[-1]["forms"] if bt.versions else bt.drafts
    return {"format": "ledgerflow.business_type/1", "code": bt.code, "name": bt.name,
            "business_line": bt.business_line, "description": bt.description, "forms": forms}


@router.post("/business-types/import", status_code=201, response_model=CommandAccepted,
             summary="Import an exported business type; its forms become drafts to review and publish.")
def import_business_type(body: dict[str, Any], request: Request, container: ContainerDep, policy: Designer,
                         response: Response) -> CommandAccepted:
    if body.get("format") != "ledgerflow.business_type/1":
        raise ApiProblem(422, "validation_failed", "not a ledgerflow.business_type/1 export", field="format")
    line = str(body.get("business_line", ""))
    if not policy.sees_line(line):
        raise PermissionDeniedError(f"you do not work in business line {line!r}", field="business_line")
    ctx = policy.context(request.state.correlation_id, line)
    return accepted(container.forms.import_business_type(ctx, body), response)


# -- data sources and customers ----------------------------------------------------------------
@router.post("/data-sources", status_code=201, response_model=CommandAccepted,
             summary="Define a data source: static options, customer lookup, or a checked SELECT.")
def define_data_source(body: DataSourceCreate, request: Request, container: ContainerDep, policy: SourceAdmin,
                       response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id)
    return accepted(container.forms.define_data_source(ctx, body.key, body.name, body.kind, body.config), response)


@router.get("/data-sources", dependencies=[Depends(consistent_with(*CATALOGUE))], summary="Every data source.")
def list_data_sources(container: ContainerDep, _: SourceAdmin) -> list[dict[str, Any]]:
    return container.forms_queries.data_sources()


@router.post("/data-sources/{key}/query", summary="Run a data source with parameters (cached per its TTL).")
def query_data_source(key: str, body: DataSourceQuery, container: ContainerDep, policy: SourceUser) -> dict[str, Any]:
    result = container.forms.query_data_source(key, body.params)
    if result["rows"] and "fund_account" in result["rows"][0]:
        # Customer rows obey the same scope and field rules as the customer endpoint.
        result["rows"] = [policy.present(CUSTOMER, r) for r in result["rows"]
                          if policy.sees(department_id=r.get("department_id"), investor_account=r["fund_account"])]
    return result


@router.get("/customers/{fund_account}", dependencies=[Depends(consistent_with(*CATALOGUE))],
            summary="Look a customer up by fund account (fills the customer field of a form).")
def customer(fund_account: str, container: ContainerDep, policy: CustomerViewer) -> dict[str, Any]:
    row = container.forms_queries.customer(fund_account)
    if row is None or not policy.sees(department_id=row["department_id"], investor_account=fund_account):
        raise NotFoundError(f"customer {fund_account} does not exist")
    return policy.present(CUSTOMER, row)


# -- records --------------------------------------------------------------------------------------
def _record(container: ContainerDep, policy: Policy, record_id: UUID) -> dict[str, Any]:
    row = container.forms_queries.record(record_id)
    policy.require_scoped(f"form record {record_id}", row)
    return row


@router.post("/records", status_code=201, response_model=CommandAccepted,
             summary="Start a form record pinned to a version (validated; 422 lists every field error).")
def start_record(body: RecordStart, request: Request, container: ContainerDep, policy: RecordEditor,
                 response: Response) -> CommandAccepted:
    line = _business_type_line(container, policy, body.business_type)
    department = policy.principal.department_id
    if body.fund_account:
        known = container.forms_queries.customer(body.fund_account)
        department = known["department_id"] if known else department
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


@router.get("/records", response_model=RecordPage, dependencies=[Depends(consistent_with(*RECORDS))],
            summary="Form records in your lines and scope, newest first.")
def list_records(container: ContainerDep, policy: RecordViewer, business_type: str | None = None,
                 cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> RecordPage:
    after = decode_cursor(cursor, 1)
    try:
        after_id = UUID(str(after[0])) if after else None
    except ValueError:
        raise ApiProblem(400, "invalid_cursor", "cursor is malformed", field="cursor") from None
    rows = container.forms_queries.records(policy.scope_params(), business_type=business_type, after=after_id,
                                           limit=limit + 1)
    items = [RecordPublic(**r) for r in rows[:limit]]
    return RecordPage(items=items, next_cursor=encode_cursor([str(items[-1].id)]) if len(rows) > limit else None)


@router.get("/records/{record_id}", response_model=RecordPublic, dependencies=[Depends(consistent_with(*RECORDS))],
            summary="One form record (ETag = its version).")
def get_record(record_id: UUID, container: ContainerDep, policy: RecordViewer, response: Response) -> RecordPublic:
    row = _record(container, policy, record_id)
    response.headers["ETag"] = f'"{row["version"]}"'
    return RecordPublic(**row)


@router.get("/records/{record_id}/changes", dependencies=[Depends(consistent_with(*RECORDS))],
            summary="Every added / changed / removed field and sub-table row (rows by id), per save.")
def record_changes(record_id: UUID, container: ContainerDep, policy: RecordViewer) -> list[dict[str, Any]]:
    _record(container, policy, record_id)
    return container.forms_queries.changes(record_id)
