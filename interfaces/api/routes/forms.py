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
from interfaces.api.pagination import encode_cursor, typed_cursor
from interfaces.api.problems import ApiProblem
from interfaces.api.schemas import CommandAccepted, FundAccount, Page, VersionNumber, accepted

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


class BusinessTypeSummary(BaseModel):
    id: UUID
    code: str
    name: str
    business_line: str
    description: str
    subjects: list[str]
    latest_version: int = Field(description="0 until the first publish")
    version: int
    updated_at: datetime


class BusinessTypesPage(Page):
    items: list[BusinessTypeSummary]


class VersionSummary(BaseModel):
    number: int
    published_at: datetime
    published_by: str


class BusinessTypeDetail(BusinessTypeSummary):
    drafts: dict[str, dict[str, Any]] | None = Field(
        None, description="Draft form per subject (JSON Schema); only for designers, absent otherwise")
    versions: list[VersionSummary]


class Published(CommandAccepted):
    published_version: int


class VersionForms(BaseModel):
    code: str
    number: int
    forms: dict[str, dict[str, Any]] = Field(description="The frozen form (JSON Schema) per subject")


class BusinessTypeExport(BaseModel):
    format: str = Field(examples=["ledgerflow.business_type/1"])
    code: str
    name: str
    business_line: str
    description: str
    forms: dict[str, dict[str, Any]]


class DataSourcePublic(BaseModel):
    key: str
    name: str
    kind: str
    config: dict[str, Any] = Field(description="Per kind (see docs/forms.md); for sql also the column map and"
                                                " scope columns found at definition")
    version: int


class DataSourceRows(BaseModel):
    rows: list[dict[str, Any]] = Field(description="One object per row, keyed by the query's output columns; "
                                                   "customer rows within your data scope and field rules")
    cached: bool = Field(description="Whether the rows came from the cache")


class CustomerPublic(BaseModel):
    """A customer as you may see it: fields hidden by a field rule are absent, masked ones masked."""

    fund_account: str
    name: str | None = None
    subject: str | None = None
    id_type: str | None = None
    id_number: str | None = None
    phone: str | None = None
    department_id: UUID | None = None
    account_manager: str | None = None
    opened_on: str | None = None
    status: str | None = None
    risk_level: str | None = None
    updated_at: datetime | None = None


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
            response_model=BusinessTypesPage,
            responses={400: {"description": "`invalid_cursor`: use next_cursor from a previous page."}},
            summary="Business types of your business lines, with their latest version, by code (keyset-paged).")
def list_business_types(container: ContainerDep, policy: Viewer, cursor: str | None = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50) -> BusinessTypesPage:
    after = typed_cursor(cursor, "text")
    rows = container.forms_queries.business_types(policy.scope_params(), after=after[0] if after else None,
                                                  limit=limit + 1)
    items = rows[:limit]
    return BusinessTypesPage(items=[BusinessTypeSummary(**r) for r in items],
                             next_cursor=encode_cursor([items[-1]["code"]]) if len(rows) > limit else None)


@router.get("/business-types/{code}", dependencies=[Depends(consistent_with(*CATALOGUE))],
            response_model=BusinessTypeDetail, response_model_exclude_unset=True,
            responses={404: {"description": "No such business type in your business lines"}},
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
             response_model=Published,
             responses={422: {"description": "`invalid_form_schema`: every problem, with subject and field"}})
def publish(code: str, request: Request, container: ContainerDep, policy: Designer, expected: ExpectedVersion,
            response: Response) -> Published:
    ctx = policy.context(request.state.correlation_id, _business_type_line(container, policy, code))
    result, number = container.forms.publish(ctx, code, expected)
    return Published(**accepted(result, response).model_dump(), published_version=number)


@router.get("/business-types/{code}/versions/{number}", response_model=VersionForms,
            responses={404: {"description": "No such business type or version"}},
            summary="A published version's forms.")
def get_version(code: str, number: VersionNumber, container: ContainerDep, policy: Viewer) -> VersionForms:
    _business_type_line(container, policy, code)
    forms = container.forms.business_type(code).published_version(number)["forms"]
    return VersionForms(code=code, number=number, forms=forms)


@router.post("/business-types/{code}/versions/{number}/validate", response_model=Validated,
             summary="Validate a submission: every error with its field path and the rule it broke.")
def validate_submission(code: str, number: VersionNumber, body: Submission, container: ContainerDep,
                        policy: Viewer) -> Validated:
    _business_type_line(container, policy, code)
    data, errors = container.forms.check_submission(code, number, body.subject, body.data, body.context)
    return Validated(valid=not errors, errors=errors, data=data)


@router.get("/business-types/{code}/export", response_model=BusinessTypeExport,
            responses={404: {"description": "No such business type in your business lines"}},
            summary="Export a business type (latest version, else drafts).")
def export(code: str, container: ContainerDep, policy: Designer) -> BusinessTypeExport:
    _business_type_line(container, policy, code)
    bt = container.forms.business_type(code)
    forms = bt.versions[-1]["forms"] if bt.versions else bt.drafts
    return BusinessTypeExport(format="ledgerflow.business_type/1", code=bt.code, name=bt.name,
                              business_line=bt.business_line, description=bt.description, forms=forms)


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
             responses={409: {"description": "A data source with this key exists"},
                        422: {"description": "`rule_violation` on `config.sql`: unsafe SQL, or customer rows "
                                             "that cannot be scoped (see docs/forms.md)"}},
             summary="Define a data source: static options, customer lookup, or a checked SELECT.")
def define_data_source(body: DataSourceCreate, request: Request, container: ContainerDep, policy: SourceAdmin,
                       response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id)
    return accepted(container.forms.define_data_source(ctx, body.key, body.name, body.kind, body.config), response)


@router.get("/data-sources", dependencies=[Depends(consistent_with(*CATALOGUE))],
            response_model=list[DataSourcePublic], summary="Every data source.")
def list_data_sources(container: ContainerDep, _: SourceAdmin) -> list[dict[str, Any]]:
    return container.forms_queries.data_sources()


@router.post("/data-sources/{key}/query", response_model=DataSourceRows,
             responses={404: {"description": "No such data source"},
                        422: {"description": "`rule_violation`: missing parameters, timeout, row or size limit, "
                                             "or the database refused the query; `data_source_uses_hidden_field`: "
                                             "the query uses a field hidden or masked for you in a condition, "
                                             "join, ordering or subquery"}},
             summary="Run a data source with parameters (cached per its TTL); customer rows within your data "
                     "scope and field rules.")
def query_data_source(key: str, body: DataSourceQuery, container: ContainerDep, policy: SourceUser) -> DataSourceRows:
    return DataSourceRows(**container.forms.query_data_source_for(policy, key, body.params))


@router.get("/customers/{fund_account}", dependencies=[Depends(consistent_with(*CATALOGUE))],
            response_model=CustomerPublic, response_model_exclude_unset=True,
            responses={404: {"description": "No such customer in your data scope"}},
            summary="Look a customer up by fund account (fills the customer field of a form).")
def customer(fund_account: str, container: ContainerDep, policy: CustomerViewer) -> dict[str, Any]:
    row = container.forms_queries.customer(fund_account)
    if row is None or not policy.sees(department_id=row["department_id"], investor_account=fund_account):
        raise NotFoundError(f"customer {fund_account} does not exist")
    return policy.present(CUSTOMER, row)


# -- records --------------------------------------------------------------------------------------
def _record(container: ContainerDep, policy: Policy, record_id: UUID) -> dict[str, Any]:
    return policy.require_scoped(f"form record {record_id}", container.forms_queries.record(record_id))


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
    after = typed_cursor(cursor, "id")
    after_id = after[0] if after else None
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
            response_model=list[RecordChange], responses={404: {"description": "No such record in your scope"}},
            summary="Every added / changed / removed field and sub-table row (rows by id), per save.")
def record_changes(record_id: UUID, container: ContainerDep, policy: RecordViewer) -> list[dict[str, Any]]:
    _record(container, policy, record_id)
    return container.forms_queries.changes(record_id)
