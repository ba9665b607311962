"""Cloud-platform sync (云平台影像同步): batches imported over HTTP (zip uploads), the anomalies
their check found, and resolving them."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from domain.shared.errors import PermissionDeniedError
from domain.shared.text import MAX_INT
from interfaces.api.deps import ContainerDep
from interfaces.api.problems import ApiProblem
from interfaces.api.routes.archive.common import NOT_FOUND, PREFIX, READS, Syncer, _in_scope, _saved_zip
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix=PREFIX, tags=["archive"])


class Resolution(BaseModel):
    resolution: str = Field(pattern="^(dismissed|fixed_at_source|imported_manually)$")
    note: str = Field("", max_length=500)


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
