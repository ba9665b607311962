"""Documents: upload (also the third-party archive API), new versions, reclassification,
metadata, delete and restore, and the detail with its versions and history.

No ``from __future__ import annotations`` here: two models below are named after the package
(see CONTRACT_MODULE), and pydantic resolves string annotations in the module a model names.
"""
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from pydantic import BaseModel, Field

from application.access.policy import Policy
from application.archive.documents import Uploaded
from application.archive.filing import Filing
from application.archive.intake import EmptyFileError, PayloadTooLargeError
from domain.archive.content import read_chunks
from domain.archive.document import MetadataChanges
from domain.archive.rules import MediaTypeMismatchError, UnsupportedMediaTypeError
from domain.shared.errors import PermissionDeniedError
from interfaces.api.deps import ContainerDep, ExpectedVersion
from interfaces.api.problems import ApiProblem
from interfaces.api.routes.archive.common import (
    CUSTOMER_PATTERN,
    NOT_FOUND,
    PREFIX,
    READS,
    RESOURCE,
    Code,
    Manager,
    Reader,
    Uploader,
    _document,
)
from interfaces.api.schemas import FUND_ACCOUNT_PATTERN, CommandAccepted, accepted
from interfaces.bootstrap import Container

router = APIRouter(prefix=PREFIX, tags=["archive"])
# Set on the two models whose names other routers share: the OpenAPI document names those by
# module (``interfaces__api__routes__archive__Reason``), a name clients generate code from, kept
# as it was before the archive routes became a package.
CONTRACT_MODULE = "interfaces.api.routes.archive"


class StoredAccepted(CommandAccepted):
    sha256: str
    size: int
    media_type: str


class Reclassify(BaseModel):
    category: Code | None = None
    business_type: Code | None = None
    reason: str = Field("", max_length=500)


class MetadataEdit(BaseModel):
    changes: MetadataChanges = Field(description="Any of title, note, tags, document_date (null clears one); "
                                                 "other keys are refused")


class Reason(BaseModel):
    __module__ = CONTRACT_MODULE
    reason: str = Field(min_length=1, max_length=500)


# -- response models -------------------------------------------------------------------------------
# Rows pass through the caller's field rules (hidden fields absent: response_model_exclude_unset).
class VersionPublic(BaseModel):
    __module__ = CONTRACT_MODULE
    number: int
    filename: str | None = None
    media_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    comment: str | None = None
    added_at: datetime | None = None
    added_by: str | None = None
    purged: bool | None = None


class HistoryEntry(BaseModel):
    seq: int
    kind: str
    actor: str | None = None
    detail: dict[str, Any] = Field(description="What changed; its keys depend on the kind")
    occurred_at: datetime | None = None


class DocumentPublic(BaseModel):
    id: UUID
    customer: str | None = None
    fund_account: str | None = None
    level: Literal["account", "customer"] | None = None
    business_line: str | None = None
    department_id: UUID | None = None
    business_type: str | None = None
    flow_instance: UUID | None = None
    category: str | None = None
    filename: str | None = None
    media_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    current_version: int | None = None
    status: str | None = None
    source: str | None = None
    metadata: dict[str, Any] | None = Field(None, description=(
        "title, note, tags, document_date (typed on input; documents stored before that may hold other shapes)"))
    uploaded_at: datetime | None = None
    uploaded_by: str | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    version: int | None = None
    position: int | None = None
    versions: list[VersionPublic] | None = None
    history: list[HistoryEntry] | None = None


@contextmanager
def _intake() -> Iterator[None]:
    """Content refusals carry their own HTTP status: too large 413, wrong type 415."""
    try:
        yield
    except PayloadTooLargeError as exc:
        raise ApiProblem(413, exc.code, exc.message, field="file") from None
    except (UnsupportedMediaTypeError, MediaTypeMismatchError) as exc:
        raise ApiProblem(415, exc.code, exc.message, field=exc.field) from None
    except EmptyFileError as exc:
        raise ApiProblem(422, exc.code, exc.message, field="file") from None


def _stored(result: Uploaded, response: Response) -> StoredAccepted:
    base = accepted(result.result, response)
    return StoredAccepted(**base.model_dump(), sha256=result.sha256, size=result.size, media_type=result.media_type)


def _require_instance(container: Container, policy: Policy, instance_id: UUID, business_line: str) -> None:
    """A document names only a flow instance the caller sees, of the same business line."""
    from domain.flows.instance import FlowInstance
    from domain.shared.errors import NotFoundError

    try:
        instance = container.flows.load(instance_id, FlowInstance)
    except NotFoundError:
        instance = None
    if instance is None or instance.business_line != business_line or not policy.sees(
            business_line=instance.business_line, department_id=getattr(instance, "department_id", None),
            investor_account=getattr(instance, "fund_account", None)):
        raise ApiProblem(404, "not_found", f"flow instance {instance_id} does not exist", field="flow_instance")
@router.post("/documents", status_code=201, response_model=StoredAccepted,
             responses={403: {"description": "outside your scope"}, 404: {"description": "unknown flow instance"},
                        413: {"description": "too large"}, 415: {"description": "unsupported or mismatched type"}},
             summary="Upload a document (multipart/form-data); also the third-party archive API.")
def upload(request: Request, response: Response, container: ContainerDep, policy: Uploader,
           file: Annotated[UploadFile, File(description="The content; its type is sniffed, never trusted")],
           business_line: Annotated[str, Form(pattern=r"^[a-z][a-z0-9_]*$", max_length=48)],
           category: Annotated[str, Form(max_length=40, examples=["id_card"])] = "other",
           customer: Annotated[str | None, Form(pattern=CUSTOMER_PATTERN, max_length=32)] = None,
           fund_account: Annotated[str | None, Form(pattern=FUND_ACCOUNT_PATTERN, max_length=20, description=(
               "Set for account-level documents: 6-20 ASCII digits"))] = None,
           business_type: Annotated[str | None, Form(max_length=48)] = None,
           flow_instance: Annotated[UUID | None, Form()] = None,
           department_id: Annotated[UUID | None, Form()] = None,
           title: Annotated[str | None, Form(max_length=200)] = None) -> StoredAccepted:
    department = department_id or policy.principal.department_id
    if not policy.sees(business_line=business_line, department_id=department, investor_account=fund_account):
        raise PermissionDeniedError("this business line, department or account is outside your scope",
                                    field="business_line")
    if flow_instance is not None:
        _require_instance(container, policy, flow_instance, business_line)
    filing = Filing(customer=customer or fund_account, fund_account=fund_account, business_line=business_line,
                    department_id=department, business_type=business_type, flow_instance=flow_instance,
                    category=category)
    source = "api" if policy.principal.kind == "api_token" else "upload"
    with _intake():
        result = container.archive.upload(policy.context(request.state.correlation_id), read_chunks(file.file),
                                          filename=file.filename or "", declared_type=file.content_type,
                                          filing=filing, metadata={"title": title} if title else {}, source=source)
    return _stored(result, response)


@router.post("/documents/{document_id}/versions", status_code=201, response_model=StoredAccepted,
             summary="Add a new version of a document's content.")
def add_version(document_id: UUID, request: Request, response: Response, container: ContainerDep,
                policy: Uploader, expected: ExpectedVersion, file: Annotated[UploadFile, File()],
                comment: Annotated[str, Form(max_length=500)] = "") -> StoredAccepted:
    _document(container, policy, document_id)
    with _intake():
        result = container.archive.add_version(policy.context(request.state.correlation_id), document_id,
                                               read_chunks(file.file), filename=file.filename or "",
                                               declared_type=file.content_type, comment=comment,
                                               expected_version=expected)
    return _stored(result, response)


@router.post("/documents/{document_id}/reclassify", response_model=CommandAccepted,
             summary="Change a document's category or business type.")
def reclassify(document_id: UUID, body: Reclassify, request: Request, response: Response,
               container: ContainerDep, policy: Manager, expected: ExpectedVersion) -> CommandAccepted:
    _document(container, policy, document_id)
    return accepted(container.archive.reclassify(policy.context(request.state.correlation_id), document_id,
                                                 category=body.category, business_type=body.business_type,
                                                 reason=body.reason, expected_version=expected), response)


@router.patch("/documents/{document_id}/metadata", response_model=CommandAccepted, summary="Edit metadata.")
def edit_metadata(document_id: UUID, body: MetadataEdit, request: Request, response: Response,
                  container: ContainerDep, policy: Manager, expected: ExpectedVersion) -> CommandAccepted:
    _document(container, policy, document_id)
    changes = body.changes.model_dump(mode="json", include=set(body.changes.model_fields_set))
    policy.require_editable(RESOURCE, changes)
    return accepted(container.archive.edit_metadata(policy.context(request.state.correlation_id), document_id,
                                                    changes, expected_version=expected), response)


@router.post("/documents/{document_id}/delete", response_model=CommandAccepted,
             summary="Delete a document (soft: its history and content stay until retention purges them).")
def delete(document_id: UUID, body: Reason, request: Request, response: Response, container: ContainerDep,
           policy: Manager, expected: ExpectedVersion) -> CommandAccepted:
    _document(container, policy, document_id)
    return accepted(container.archive.delete(policy.context(request.state.correlation_id), document_id,
                                             body.reason, expected_version=expected), response)


@router.post("/documents/{document_id}/restore", response_model=CommandAccepted, summary="Restore a deleted document.")
def restore(document_id: UUID, body: Reason, request: Request, response: Response, container: ContainerDep,
            policy: Manager, expected: ExpectedVersion) -> CommandAccepted:
    _document(container, policy, document_id)
    return accepted(container.archive.restore(policy.context(request.state.correlation_id), document_id,
                                              body.reason, expected_version=expected), response)


@router.get("/documents/{document_id}", dependencies=[READS], response_model=DocumentPublic,
            response_model_exclude_unset=True, responses=NOT_FOUND,
            summary="A document with its ordered versions and history.")
def detail(document_id: UUID, container: ContainerDep, policy: Reader, response: Response) -> dict[str, Any]:
    row = policy.require_scoped(f"document {document_id}", container.archive_queries.detail(document_id))
    response.headers["ETag"] = f'"{row["version"]}"'
    return policy.present(RESOURCE, row)
