"""Business types (业务类型): versioned forms per customer subject, drafts, publishing, validation,
export and import."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.shared.errors import NotFoundError, PermissionDeniedError
from interfaces.api.deps import ContainerDep, ExpectedVersion
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import ApiProblem
from interfaces.api.routes.forms.common import CATALOGUE_READS, PREFIX, Code, Designer, Viewer, _business_type_line
from interfaces.api.schemas import CommandAccepted, Page, VersionNumber, accepted
from interfaces.bootstrap import Container

router = APIRouter(prefix=PREFIX, tags=["forms"])


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


def _business_type(container: Container, policy: Policy, code: str) -> dict[str, Any]:
    """For reads: the read model (callers pass wait_for_position to read their writes)."""
    row = container.forms_queries.business_type(code)
    if row is None or not policy.sees_line(row["business_line"]):
        raise NotFoundError(f"business type {code!r} does not exist")
    return row




@router.post("/business-types", status_code=201, response_model=CommandAccepted, summary="Create a business type.")
def create_business_type(body: BusinessTypeCreate, request: Request, container: ContainerDep, policy: Designer,
                         response: Response) -> CommandAccepted:
    if not policy.sees_line(body.business_line):
        raise PermissionDeniedError(f"you do not work in business line {body.business_line!r}", field="business_line")
    ctx = policy.context(request.state.correlation_id, body.business_line)
    return accepted(container.forms.create_business_type(ctx, body.code, body.name, body.business_line,
                                                          body.description, body.subjects), response)


@router.get("/business-types", dependencies=[CATALOGUE_READS],
            response_model=BusinessTypesPage,
            responses=INVALID_CURSOR,
            summary="Business types of your business lines, with their latest version, by code (keyset-paged).")
def list_business_types(container: ContainerDep, policy: Viewer, cursor: str | None = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50) -> BusinessTypesPage:
    after = typed_cursor(cursor, "text")
    rows = container.forms_queries.business_types(policy.scope_params(), after=after[0] if after else None,
                                                  limit=limit + 1)
    items = rows[:limit]
    return BusinessTypesPage(items=[BusinessTypeSummary(**r) for r in items],
                             next_cursor=encode_cursor([items[-1]["code"]]) if len(rows) > limit else None)


@router.get("/business-types/{code}", dependencies=[CATALOGUE_READS],
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
