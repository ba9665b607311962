"""Projection status and lag; events a projection parked, and re-applying them."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.shared.errors import NotFoundError, RuleViolationError
from interfaces.api.deps import ContainerDep, requires
from interfaces.api.problems import Responses

router = APIRouter(prefix="/api/v1/projections", tags=["operations"])
NOT_FOUND: Responses = {404: {"description": "No projection has that name."}}


class RebuildPublic(BaseModel):
    version: int = Field(description="The projection version being built")
    position: int = Field(description="Last event position applied to the new tables")
    lag: int = Field(description="Events still to apply before the switch")
    percent: float = Field(description="Progress of the build, 0-100")


class ProjectionPublic(BaseModel):
    name: str = Field(examples=["access.departments"])
    kind: str = Field(examples=["postgres"], description="postgres (read model) or clickhouse (analytics sink)")
    position: int = Field(description="Last event position applied")
    head: int = Field(description="Last event position stored")
    lag: int = Field(description="Events stored but not yet applied")
    error: str | None = Field(None, description="Last failure of this projection's worker, if it is failing")
    parked: int = Field(0, description="Events parked because their data could not be applied (see /parked)")
    version: int = Field(1, description="The projection version the serving tables were built by")
    code_version: int = Field(1, description="The projection version of this release's code (a higher one is"
                                             " rebuilt blue/green at start)")
    rebuild: RebuildPublic | None = Field(None, description="A blue/green rebuild under way: the serving tables"
                                                            " answer until it switches (ADR 0029)")


class ParkedEvent(BaseModel):
    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    error: str
    parked_at: datetime


class RetryResult(BaseModel):
    applied: int = Field(description="Parked events applied now")
    parked: int = Field(description="Events still parked")


@router.get("", response_model=list[ProjectionPublic], summary="Every projection with its position and lag.")
def list_projections(container: ContainerDep,
                     _: Annotated[Policy, Depends(requires("ops.projections.view"))]) -> list[ProjectionPublic]:
    out = []
    for runner in container.runners.values():
        s = runner.status()
        rebuild = None if s.rebuild is None else RebuildPublic(
            version=s.rebuild.version, position=s.rebuild.position, lag=s.rebuild.lag,
            percent=round(s.rebuild.percent, 1))
        out.append(ProjectionPublic(name=s.name, kind=s.kind, position=s.position, head=s.head, lag=s.lag,
                                    error=s.error, parked=s.parked, version=s.version,
                                    code_version=runner.projection.version, rebuild=rebuild))
    return out


def _runner(container: ContainerDep, name: str):
    runner = container.runners.get(name)
    if runner is None:
        raise NotFoundError(f"projection {name!r} does not exist", field="name")
    return runner


@router.get("/{name}/parked", response_model=list[ParkedEvent],
            summary="Events this projection parked: the value it could not apply, and later events of that aggregate.",
            responses=NOT_FOUND)
def parked_events(name: str, container: ContainerDep,
                  _: Annotated[Policy, Depends(requires("ops.projections.view"))]) -> list[ParkedEvent]:
    return [ParkedEvent(**row) for row in _runner(container, name).parked()]


@router.post("/{name}/parked/retry", response_model=RetryResult,
             summary="Re-apply parked events in order (after a fix); those that fail again stay parked.",
             responses={**NOT_FOUND, 422: {"description": "An analytics sink: re-sent by a rebuild instead."}})
def retry_parked(name: str, container: ContainerDep,
                 _: Annotated[Policy, Depends(requires("ops.projections.manage"))]) -> RetryResult:
    runner = _runner(container, name)
    if runner.projection.kind != "postgres":
        raise RuleViolationError("analytics sinks are re-sent by a rebuild (ledgerflow projections rebuild NAME)")
    applied, remaining = runner.retry_parked()
    return RetryResult(applied=applied, parked=remaining)
