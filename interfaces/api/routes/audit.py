"""Audit: the ordered trail of any aggregate, its state as of a time, chain verification."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from application.access.policy import Policy
from interfaces.api.deps import ContainerDep, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import ApiProblem, Responses
from interfaces.api.schemas import MAX_VERSION, Page

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
NOT_FOUND: Responses = {404: {"description": "The aggregate does not exist or lies outside your data scope."}}
Auditor = Annotated[Policy, Depends(requires("audit.view"))]


class TrailEntryPublic(BaseModel):
    position: int = Field(description="Global event position")
    version: int = Field(description="Aggregate version after this event")
    event_type: str = Field(examples=["Renamed"])
    aggregate_type: str = Field(examples=["Department"])
    occurred_at: datetime
    actor: str | None = Field(examples=["admin:bootstrap"])
    via: str | None = Field(None, examples=["api_token:7f0c2a9e-7c1e-4e0a-9a57-5a1f3f2b8d10"],
                            description="The client the actor acted through: an OA or mobile client holding "
                                        "the actor's delegation (ADR 0016); null when they acted themselves")
    business_line: str | None = None
    correlation_id: str | None = None
    data: dict[str, Any] = Field(description="The event's own fields")
    changes: dict[str, dict[str, Any]] = Field(description="Fields whose value changed: {field: {old, new}}")


class TrailPage(Page):
    items: list[TrailEntryPublic]


class StatePublic(BaseModel):
    aggregate_type: str
    state: dict[str, Any]


class ChainProblemPublic(BaseModel):
    position: int
    kind: str = Field(description="modified | deleted | broken_link | unchained (the chain walk); missing | "
                                  "checkpoint_mismatch | checkpoint_forged | anchor_unavailable (the anchored "
                                  "checkpoints, ADR 0027)")
    detail: str


class CheckpointPublic(BaseModel):
    position: int = Field(description="Chain head position the checkpoint recorded")
    hash: str = Field(description="Chain hash at that position (hex)")
    at: datetime


class VerifyPublic(BaseModel):
    ok: bool
    checked: int = Field(description="Rows walked")
    first_break: int | None = Field(description="Position where the chain first breaks")
    problems: list[ChainProblemPublic]
    anchor: str = Field(description="Where the checkpoints are anchored")
    checkpoint: CheckpointPublic | None = Field(
        description="The newest anchored checkpoint that is genuine and matches the store")
    walked_after: int = Field(description="0: the whole chain was walked; else the walk started after this "
                                          "checkpoint position, trusting its hash")


@router.get("/aggregates/{aggregate_id}/trail", response_model=TrailPage,
            summary="Ordered event trail of one aggregate: who, when, what changed (paged by version).",
            responses={**NOT_FOUND, **INVALID_CURSOR})
def trail(aggregate_id: UUID, container: ContainerDep, policy: Auditor, cursor: str | None = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 100) -> TrailPage:
    after = typed_cursor(cursor, "int")
    # The trail is derived by folding every event (old/new values), so it is built whole, then cut.
    entries = [e for e in container.audit.trail(aggregate_id, policy) if after is None or e.version > after[0]]
    items = entries[:limit]
    return TrailPage(items=[TrailEntryPublic(**vars(e)) for e in items],
                     next_cursor=encode_cursor([items[-1].version]) if len(entries) > limit else None)


@router.get("/aggregates/{aggregate_id}/state", response_model=StatePublic,
            summary="State of one aggregate as of a time or a version (default: now).",
            responses={**NOT_FOUND, 422: {"description": "`at` lacks a time zone, or no such version."}})
def state(aggregate_id: UUID, container: ContainerDep, policy: Auditor,
          at: Annotated[datetime | None, Query(description="ISO-8601 instant with time zone")] = None,
          version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None) -> StatePublic:
    if at is not None and at.tzinfo is None:
        raise ApiProblem(422, "validation_failed", "at must include a time zone, e.g. 2026-01-31T09:00:00+08:00",
                         field="at")
    return StatePublic(**container.audit.state_as_of(aggregate_id, at=at, version=version, policy=policy))


@router.post("/verify", response_model=VerifyPublic,
             summary="Re-compute the tamper-evidence hash chain and check it against the anchored checkpoints.")
def verify(container: ContainerDep, _: Annotated[Policy, Depends(requires("audit.verify"))],
           since_checkpoint: Annotated[bool, Query(description="Walk only the events after the newest good "
                                                               "checkpoint (trusting its hash)")] = False,
           ) -> VerifyPublic:
    report = container.audit.verify(since_checkpoint=since_checkpoint)
    cp = report.checkpoint
    return VerifyPublic(ok=report.ok, checked=report.checked, first_break=report.first_break,
                        problems=[ChainProblemPublic(**vars(p)) for p in report.problems], anchor=report.anchor,
                        checkpoint=CheckpointPublic(position=cp.position, hash=cp.hash.hex(), at=cp.at) if cp else None,
                        walked_after=report.walked_after)
