"""archive: documents per customer/account and per business (影像资料管理), content download and
preview, exports for regulators. The same upload endpoint is the third-party archive API when
called with an API token holding ``archive.documents.upload``."""
from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from application.access.policy import Policy
from application.archive.documents import Uploaded
from application.archive.filing import Filing
from application.archive.intake import EmptyFileError, PayloadTooLargeError
from domain.archive.content import read_chunks
from domain.archive.document import MetadataChanges
from domain.archive.rules import ALLOWED_TYPES, ExportRule, MediaTypeMismatchError, UnsupportedMediaTypeError
from domain.shared.errors import PermissionDeniedError
from domain.shared.ids import natural_id
from domain.shared.text import MAX_INT
from infrastructure.settings import Settings
from interfaces.api.deps import ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import encode_cursor, typed_cursor
from interfaces.api.problems import ApiProblem, Responses
from interfaces.api.schemas import FUND_ACCOUNT_PATTERN, CommandAccepted, Page, accepted

PREFIX = "/api/v1/archive"
router = APIRouter(prefix=PREFIX, tags=["archive"])
DOCS = ("archive.documents",)
READS = Depends(consistent_with(*DOCS))
Reader = Annotated[Policy, Depends(requires("archive.documents.read"))]
Uploader = Annotated[Policy, Depends(requires("archive.documents.upload"))]
Manager = Annotated[Policy, Depends(requires("archive.documents.manage"))]
Exporter = Annotated[Policy, Depends(requires("archive.documents.export"))]
Syncer = Annotated[Policy, Depends(requires("archive.sync"))]
Mounter = Annotated[Policy, Depends(requires("archive.mount"))]
RESOURCE = "archive.document"
Code = Annotated[str, Field(min_length=1, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")]
MULTIPART_OVERHEAD = 64 * 1024
# Customer numbers: ASCII letters, digits, _ and - (domain.archive.rules.IDENTIFIER); fund
# accounts: ASCII digits only (a regex's \d would take full-width and Arabic-Indic digits).
CUSTOMER_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
# Served inline (previewed in the browser) only: raster images. Everything else, PDF included,
# is an attachment whatever the caller asks: a document rendered in our origin could run script.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/bmp"})
NOT_FOUND: Responses = {404: {"description": "`not_found`: unknown, or outside your scope"}}


def upload_limits(settings: Settings) -> tuple[tuple[re.Pattern[str], int], ...]:
    """Archive routes take files: their request bodies may reach the file limit (plus the
    multipart envelope); everything else keeps the small JSON limit."""
    limit = max(settings.max_body_bytes, settings.archive_max_file_bytes + MULTIPART_OVERHEAD)
    bulk = max(limit, settings.archive_mount_max_total_bytes + MULTIPART_OVERHEAD)
    return tuple((re.compile(re.escape(f"{PREFIX}{path}")), size)
                 for path, size in (("/documents", limit), ("/mounts", bulk), ("/sync/batches", bulk)))


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
    reason: str = Field(min_length=1, max_length=500)


class ExportRequest(BaseModel):
    rule_key: Code | None = Field(None, description="A saved export rule; or give `rule` inline")
    rule: dict[str, Any] | None = Field(None, examples=[{
        "customers": ["88001234"], "business_types": ["account_opening"], "categories": ["id_card"],
        "date_from": "2026-01-01", "date_to": "2026-12-31"}])
    business_line: Code | None = None
    purpose: str = Field("", max_length=500, examples=["2026年度监管报备"])


class ExportRuleCreate(BaseModel):
    key: Code
    name: str = Field(min_length=1, max_length=100)
    business_line: Code
    rule: dict[str, Any]


# -- response models -------------------------------------------------------------------------------
# Rows pass through the caller's field rules (hidden fields absent: response_model_exclude_unset).
class VersionPublic(BaseModel):
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


class AccountDocuments(BaseModel):
    fund_account: str | None
    documents: list[DocumentPublic]


class CustomerDocuments(BaseModel):
    customer: str
    count: int
    customer_level: list[DocumentPublic]
    accounts: list[AccountDocuments]


class BusinessGroup(BaseModel):
    flow_instance: str | None
    business_type: str | None
    accounts: list[AccountDocuments]


class ExportProduced(BaseModel):
    id: UUID
    position: int
    count: int
    zip_sha256: str
    size: int
    download: str


class ExportRuleSpec(BaseModel):
    customers: list[str] = []
    business_types: list[str] = []
    categories: list[str] = []
    date_from: date | None = None
    date_to: date | None = None
    include_deleted: bool = False


class ExportPublic(BaseModel):
    id: UUID
    rule_key: str | None = None
    rule: ExportRuleSpec
    business_line: str | None = None
    count: int
    zip_sha256: str
    size: int
    purpose: str
    actor: str
    produced_at: datetime
    position: int


class SyncBatchPublic(BaseModel):
    batch_id: str
    source: str
    business_line: str
    imported: int
    anomalies: int
    open_anomalies: int
    imported_by: str
    imported_at: datetime


class SyncAnomaly(BaseModel):
    batch_id: str
    index: int
    file: str
    customer: str | None = None
    fund_account: str | None = None
    anomaly: str | None = None
    detail: str | None = None
    resolution: str | None = None
    note: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None


class MountFile(BaseModel):
    filename: str
    status: Literal["imported", "failed"]
    document_id: UUID | None = None
    sha256: str | None = None
    error: str | None = None


class MountReportPublic(BaseModel):
    total: int
    imported: int
    failed: int
    files: list[MountFile]


class SyncEntry(BaseModel):
    index: int
    file: str
    customer: str | None = None
    fund_account: str | None = None
    status: Literal["imported", "anomaly"]
    document_id: UUID | None = None
    anomaly: str | None = None
    detail: str | None = None


class SyncBatchImported(BaseModel):
    batch_id: str
    id: UUID
    position: int
    imported: int
    anomalies: int
    entries: list[SyncEntry]


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


def _document(container: ContainerDep, policy: Policy, document_id: UUID, expected: int | None = None) -> Any:
    document = container.archive.document(document_id, expected)
    policy.require_scoped(f"document {document_id}", document)
    return document


def _require_instance(container: ContainerDep, policy: Policy, instance_id: UUID, business_line: str) -> None:
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


def _in_scope(policy: Policy) -> Any:
    """Per-row scope check for bulk intake (mount, sync)."""
    return lambda filing: policy.sees(business_line=filing.business_line, department_id=filing.department_id,
                                      investor_account=filing.fund_account)


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


def _disposition(kind: str, filename: str) -> str:
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _download_name(policy: Policy, document_id: UUID, chosen: dict[str, Any]) -> str:
    """The filename as the caller may see it: when a field rule hides or masks ``filename`` for
    them, a neutral ``document-<id>.<ext>`` (the extension from the sniffed type) instead."""
    filename = chosen["filename"]
    if policy.present(RESOURCE, {"filename": filename}).get("filename") == filename:
        return filename
    ext = ALLOWED_TYPES.get(chosen["media_type"], ("bin",))[0]
    return f"document-{document_id}.{ext}"


@router.get("/documents/{document_id}/content",
            summary="Download or preview a version's bytes, unchanged. Only images are served inline; everything "
                    "else is an attachment. Always sandboxed (CSP) and nosniff.",
            response_class=StreamingResponse, responses={
                200: {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                                  for t in ("application/octet-stream", *sorted(ALLOWED_TYPES))}},
                304: {"description": "If-None-Match matched"}, **NOT_FOUND})
def content(document_id: UUID, request: Request, container: ContainerDep, policy: Reader,
            version: Annotated[int | None, Query(ge=1, le=MAX_INT, description="Version number; default the current")]
            = None,
            download: Annotated[bool, Query(description="attachment instead of inline")] = False) -> Response:
    document = _document(container, policy, document_id)
    chosen, stream = container.archive.content(document, version)
    etag = f'"{chosen["sha256"]}"'
    inline = not download and chosen["media_type"] in INLINE_TYPES
    headers = {"ETag": etag, "Cache-Control": "private, max-age=0", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "sandbox",
               "Content-Disposition": _disposition("inline" if inline else "attachment",
                                                   _download_name(policy, document_id, chosen))}
    if request.headers.get("if-none-match") == etag:
        stream.close()
        return Response(status_code=304, headers=headers)
    headers["Content-Length"] = str(chosen["size"])

    def body() -> Iterator[bytes]:
        with stream:
            yield from read_chunks(stream, 256 * 1024)

    return StreamingResponse(body(), media_type=chosen["media_type"], headers=headers)


@router.get("/customers/{customer}/documents", dependencies=[READS], response_model=CustomerDocuments,
            response_model_exclude_unset=True,
            summary="按客户视角查看全息资料: every document of a customer, account-level and customer-level, "
                    "each with its ordered versions and history.")
def by_customer(customer: Annotated[str, PathParam(pattern=CUSTOMER_PATTERN, description=(
                    "Customer number (or the fund account of a customer filed by it)"))],
                container: ContainerDep, policy: Reader,
                include_deleted: Annotated[bool, Query(description="Also list deleted documents")] = False,
                category: Annotated[str | None, Query(max_length=40)] = None) -> dict[str, Any]:
    rows = policy.present_all(RESOURCE, container.archive_queries.by_customer(
        policy.scope_params(), customer, include_deleted=include_deleted, category=category))
    accounts: dict[str, list] = {}
    for row in rows:
        if row.get("fund_account"):
            accounts.setdefault(row["fund_account"], []).append(row)
    return {"customer": customer, "count": len(rows),
            "customer_level": [r for r in rows if not r.get("fund_account")],
            "accounts": [{"fund_account": a, "documents": docs} for a, docs in sorted(accounts.items())]}


class BusinessPage(Page):
    items: list[BusinessGroup]


@router.get("/business", dependencies=[READS], response_model=BusinessPage, response_model_exclude_unset=True,
            responses={400: {"description": "`invalid_cursor`"}},
            summary="按业务维度查看 / 服务归档查询: documents of business submissions, per submission and account.")
def by_business(container: ContainerDep, policy: Reader,
                flow_instance: UUID | None = None,
                business_type: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=48)] = None,
                fund_account: Annotated[str | None, Query(pattern=FUND_ACCOUNT_PATTERN, max_length=20, description=(
                    "6-20 ASCII digits"))] = None,
                cursor: Annotated[str | None, Query(max_length=400)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> BusinessPage:
    after = typed_cursor(cursor, "at!", "id")
    rows = container.archive_queries.by_business(policy.scope_params(), flow_instance=flow_instance,
                                                 business_type=business_type, fund_account=fund_account,
                                                 after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = policy.present_all(RESOURCE, rows[:limit])
    groups: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = (str(row["flow_instance"]) if row["flow_instance"] else None, row["business_type"])
        group = groups.setdefault(key, {"flow_instance": key[0], "business_type": key[1], "accounts": {}})
        group["accounts"].setdefault(row.get("fund_account"), []).append(row)
    items = [{**g, "accounts": [{"fund_account": a, "documents": d} for a, d in g["accounts"].items()]}
             for g in groups.values()]
    last = rows[-1] if rows else None
    return BusinessPage(items=items, next_cursor=encode_cursor([last["uploaded_at"].isoformat(), str(last["id"])])
                        if more and last else None)


# -- exports ----------------------------------------------------------------------------------------
@router.post("/export-rules", status_code=201, response_model=CommandAccepted,
             responses={404: {"description": "unknown business line"}}, summary="Save an export rule.")
def define_rule(body: ExportRuleCreate, request: Request, response: Response, container: ContainerDep,
                policy: Exporter) -> CommandAccepted:
    if not policy.sees_line(body.business_line):
        raise PermissionDeniedError("this business line is outside your scope", field="business_line")
    if not container.access.exists(natural_id("business_line", body.business_line)):
        raise ApiProblem(404, "not_found", f"unknown business line {body.business_line!r}", field="business_line")
    return accepted(container.archive.define_rule(policy.context(request.state.correlation_id), body.key,
                                                          body.name, body.business_line, body.rule), response)


@router.post("/exports", status_code=201, dependencies=[READS], response_model=ExportProduced,
             responses={404: {"description": "unknown export rule"}},
             summary="Produce an export package (zip + manifest.csv/json + SHA256SUMS); every export is an audited "
                     "ExportProduced event. `wait_for_position` makes it include documents just uploaded.")
def produce_export(body: ExportRequest, request: Request, container: ContainerDep, policy: Exporter) -> dict[str, Any]:
    line = body.business_line
    if body.rule_key:
        saved = container.archive.rule(body.rule_key)
        if not policy.sees_line(saved.business_line):
            raise ApiProblem(404, "not_found", f"export rule {body.rule_key!r} does not exist", field="rule_key")
        raw, line = saved.rule, saved.business_line
    elif body.rule is not None:
        raw = body.rule
    else:
        raise ApiProblem(422, "validation_failed", "give rule_key or rule", field="rule")
    if line is not None and not policy.sees_line(line):
        raise PermissionDeniedError("this business line is outside your scope", field="business_line")
    rule = ExportRule.parse(raw)
    scope = policy.scope_params()
    if line is not None:
        scope = {**scope, "all_lines": False, "lines": [line] if policy.sees_line(line) else []}

    def select(r: ExportRule, limit: int) -> list[dict[str, Any]]:
        return container.archive_queries.for_export(
            scope, customers=list(r.customers), business_types=list(r.business_types),
            categories=list(r.categories), date_from=r.date_from, date_to=r.date_to, include_deleted=r.include_deleted,
            limit=limit)

    result, export = container.archive.produce(policy.context(request.state.correlation_id), rule,
                                                       body.rule_key, line, body.purpose, select,
                                                       lambda rows: policy.present_all(RESOURCE, rows))
    return {"id": str(result.id), "position": result.position, "count": export.count,
            "zip_sha256": export.zip_sha256, "size": export.size,
            "download": f"{PREFIX}/exports/{result.id}/download"}


@router.get("/exports", dependencies=[Depends(consistent_with(*DOCS))], response_model=list[ExportPublic],
            summary="Exports produced so far (audited).")
def exports(container: ContainerDep, policy: Exporter) -> list[dict[str, Any]]:
    rows = container.archive_queries.exports(policy.scope_params())
    return [{k: v for k, v in r.items() if k != "reach"} for r in rows if _covers(policy, r.get("reach"))]


def _covers(policy: Policy, reach: list[dict[str, Any]] | None) -> bool:
    """A package is visible only to a caller who sees every document in it: each (business line,
    department, fund account) it holds must lie in the caller's lines and data scope. Packages
    without a recorded reach are for unrestricted callers only."""
    if reach is None:
        return policy.principal.business_lines is None and policy.principal.departments is None
    return all(policy.sees(business_line=r["business_line"],
                           department_id=UUID(r["department_id"]) if r.get("department_id") else None,
                           investor_account=r.get("fund_account")) for r in reach)


@router.get("/exports/{export_id}/download", response_class=StreamingResponse, summary="Download an export package.",
            responses={200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                       **NOT_FOUND})
def download_export(export_id: UUID, container: ContainerDep, policy: Exporter) -> Response:
    from domain.archive.export import ArchiveExport
    from domain.shared.errors import NotFoundError

    try:
        export = container.archive.load(export_id, ArchiveExport)
    except NotFoundError:
        export = None
    if export is None or not policy.sees_line(export.business_line) or not _covers(policy, export.reach):
        raise ApiProblem(404, "not_found", f"export {export_id} does not exist")
    stream = container.archive.blobs.open(export.zip_sha256)

    def body() -> Iterator[bytes]:
        with stream:
            yield from read_chunks(stream, 256 * 1024)

    return StreamingResponse(body(), media_type="application/zip", headers={
        "ETag": f'"{export.zip_sha256}"', "Content-Length": str(export.size),
        "Content-Disposition": _disposition("attachment", f"archive-export-{export_id}.zip")})


# -- cloud-platform sync view ------------------------------------------------------------------------------
class Resolution(BaseModel):
    resolution: str = Field(pattern="^(dismissed|fixed_at_source|imported_manually)$")
    note: str = Field("", max_length=500)


@router.get("/sync/batches", dependencies=[READS], response_model=list[SyncBatchPublic],
            summary="Cloud-platform batches imported, with anomaly counts.")
def sync_batches(container: ContainerDep, policy: Syncer) -> list[dict[str, Any]]:
    return container.archive_queries.sync_batches(policy.scope_params())


@router.get("/sync/anomalies", dependencies=[READS], response_model=list[SyncAnomaly],
            summary="Anomalies found by the sync check (hash mismatch, missing file, unknown customer, duplicate, "
                    "rejected content), open ones by default.")
def sync_anomalies(container: ContainerDep, policy: Syncer, open_only: bool = True,
                   kind: Annotated[str | None, Query(pattern="^(hash_mismatch|missing_file|unknown_customer|duplicate"
                                                             "|rejected_content)$")] = None,
                   batch_id: Annotated[str | None, Query(max_length=100)] = None) -> list[dict[str, Any]]:
    return container.archive_queries.sync_anomalies(policy.scope_params(), open_only=open_only, kind=kind,
                                                    batch_id=batch_id)


@router.post("/sync/batches/{batch_id}/anomalies/{index}/resolve", response_model=CommandAccepted,
             responses=NOT_FOUND, summary="Resolve one anomaly with a reason.")
def resolve(batch_id: Annotated[str, PathParam(max_length=100)], index: Annotated[int, PathParam(ge=0, le=MAX_INT)],
            body: Resolution, request: Request, response: Response,
            container: ContainerDep, policy: Syncer) -> CommandAccepted:
    row = container.archive_queries.sync_batch(batch_id)
    if row is None or not policy.sees(business_line=row["business_line"], department_id=row["department_id"]):
        raise ApiProblem(404, "not_found", f"cloud batch {batch_id!r} does not exist")
    return accepted(container.archive.resolve_anomaly(policy.context(request.state.correlation_id), batch_id, index,
                                                      body.resolution, body.note), response)


# -- bulk intake over HTTP: static mount and cloud batches (zip uploads) ------------------------------------
@contextmanager
def _saved_zip(container: ContainerDep, upload: UploadFile) -> Iterator[Path]:
    """The uploaded zip on local disk (zipfile needs seeking); removed afterwards."""
    staging = container.settings.data_dir / "blobs" / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=staging, prefix="bulk-", suffix=".zip", delete=False) as out:
        path = Path(out.name)
    try:
        with path.open("wb") as dst:
            shutil.copyfileobj(upload.file, dst)
        yield path
    finally:
        path.unlink(missing_ok=True)


@router.post("/mounts", response_model=MountReportPublic, response_model_exclude_unset=True,
             summary="静态资料挂载: import a zip of historical documents with manifest.csv; "
                     "answers the per-file report. Zip bombs and `..` members are refused (422).")
def mount_zip(request: Request, container: ContainerDep, policy: Mounter,
              file: Annotated[UploadFile, File(description="zip with manifest.csv and the files")]) -> dict[str, Any]:
    with _saved_zip(container, file) as path:
        lines = _manifest_lines(container, path)
        if any(not policy.sees_line(line) for line in lines):
            raise PermissionDeniedError("the manifest names a business line outside your scope",
                                        field="business_line")
        report = container.archive.mount(policy.context(request.state.correlation_id), path,
                                         department_id=policy.principal.department_id, allowed=_in_scope(policy))
    return report.as_dict()


def _manifest_lines(container: ContainerDep, path: Path) -> set[str]:
    """Business lines a mount manifest names (checked against the caller before importing). The
    zip is judged (bombs, ``..``) before its manifest is read, and the manifest is read bounded."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            rows = container.archive.mount_manifest(zf)
    except (zipfile.BadZipFile, OSError):
        return set()  # mount() explains what is wrong
    return {row.get("business_line") or "" for row in rows}


@router.post("/sync/batches", status_code=201, response_model=SyncBatchImported,
             response_model_exclude_unset=True, summary="云平台影像同步: import one cloud-platform batch (zip with "
                                                       "manifest.json); answers the entries and their anomalies.")
def sync_batch(request: Request, container: ContainerDep, policy: Syncer,
               file: Annotated[UploadFile, File(description="zip with manifest.json and the files")]) -> dict[str, Any]:
    from infrastructure.archive.cloud import CloudBatchError, ZipCloudBatch

    with _saved_zip(container, file) as path:
        try:
            batch = ZipCloudBatch(path)
        except CloudBatchError as exc:
            raise ApiProblem(422, "invalid_batch", str(exc), field="file") from None
        try:
            if not policy.sees_line(batch.business_line):
                raise PermissionDeniedError("the batch's business line is outside your scope", field="business_line")
            return container.archive.import_batch(policy.context(request.state.correlation_id), batch,
                                                  container.archive_queries.is_duplicate,
                                                  department_id=policy.principal.department_id,
                                                  allowed=_in_scope(policy))
        finally:
            batch._zip.close()
