"""Export rules and export packages for regulators (导出规则): every export is an audited event,
and a package is visible only to callers who see every document in it."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.archive.content import read_chunks
from domain.archive.rules import ExportRule
from domain.shared.errors import PermissionDeniedError
from domain.shared.ids import natural_id
from interfaces.api.deps import ContainerDep, consistent_with
from interfaces.api.problems import ApiProblem
from interfaces.api.routes.archive.common import (
    DOCS,
    NOT_FOUND,
    PREFIX,
    READS,
    RESOURCE,
    Code,
    Exporter,
    _disposition,
)
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix=PREFIX, tags=["archive"])


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
