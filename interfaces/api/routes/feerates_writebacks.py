"""feerates: write-backs to the trading counter (回写柜台) — the import file an approved fee-rate
change produced, and the counter's result. A counter (or its operator) reports a result here with
an API token holding `feerates.writeback.report`; results also arrive as files (docs/feerates.md)."""
from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from application.access.policy import Policy
from application.feerates.writebacks import request_id_of
from domain.feerates.writeback import Writeback, writeback_id
from interfaces.api.deps import Acting, ContainerDep, requires
from interfaces.api.problems import Responses

router = APIRouter(prefix="/api/v1/feerates/writebacks", tags=["feerates"])
Viewer = Annotated[Policy, Depends(requires("feerates.writeback.view"))]
Reporter = Annotated[Policy, Depends(requires("feerates.writeback.report"))]
NOT_FOUND: Responses = {404: {"description": "`not_found`: no such write-back (or outside your business lines)"}}


class ResultReport(BaseModel):
    file: str | None = Field(None, max_length=200, examples=["feerate_<instance>_<task>.csv"])
    request_id: str | None = Field(None, max_length=200, description="Instead of file: the flow request id")
    status: Literal["imported", "failed"]
    message: str = Field("", max_length=2000, description="The counter's message (why it failed)")

    @model_validator(mode="after")
    def _one_reference(self) -> ResultReport:
        if (self.file is None) == (self.request_id is None):
            raise ValueError("name the file or the request_id, one of them")
        return self


class WritebackPublic(BaseModel):
    id: UUID
    request_id: str
    instance_id: UUID
    node: str
    counter: str
    layout: str
    file: str
    sha256: str
    records: int
    status: Literal["exported", "imported", "failed"]
    message: str
    document_id: UUID | None = Field(description="The archived copy of the file")
    version: int


def _public(w: Writeback) -> WritebackPublic:
    return WritebackPublic(id=w.id, request_id=w.request_id, instance_id=w.instance_id, node=w.node,
                           counter=w.counter, layout=w.layout, file=w.file, sha256=w.sha256, records=w.records,
                           status=w.status, message=w.message, document_id=w.document_id, version=w.version)


@router.get("/{writeback_id}", response_model=WritebackPublic, responses=NOT_FOUND,
            summary="A write-back: its file, hash, record count, archived copy and the counter's result.")
def get_writeback(writeback_id: UUID, container: ContainerDep, policy: Viewer) -> WritebackPublic:
    writeback = container.feerates.writeback(writeback_id)
    policy.require_line(f"write-back {writeback_id}", writeback.business_line)
    return _public(writeback)


@router.post("/results", response_model=WritebackPublic, responses={
    **NOT_FOUND, 409: {"description": "`writeback_result_conflict`: the file was already reported otherwise"},
    422: {"description": "`invalid_request`: neither or both of file and request_id"}},
             summary="Report the counter's import result for a file (imported / failed with its message); "
                     "the same result again changes nothing.")
def report_result(body: ResultReport, container: ContainerDep, policy: Reporter, ctx: Acting) -> WritebackPublic:
    reference = body.file or body.request_id or ""
    known = container.feerates.writeback(writeback_id(request_id_of(reference)))
    policy.require_line(f"write-back {reference!r}", known.business_line)
    writeback = container.feerates.report_result(ctx, reference, body.status, body.message, "api")
    return _public(writeback)
