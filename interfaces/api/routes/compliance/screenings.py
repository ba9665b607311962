"""Screenings: the review queue of hits (filter by status), one screening, and its review."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.compliance.screening import Status
from domain.shared.errors import NotFoundError
from interfaces.api.deps import Acting, ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.routes.compliance.lists import PREFIX
from interfaces.api.schemas import CommandAccepted, Page, accepted

router = APIRouter(prefix=f"{PREFIX}/screenings", tags=["compliance"])
Viewer = Annotated[Policy, Depends(requires("compliance.screening.view"))]
Reviewer = Annotated[Policy, Depends(requires("compliance.screening.review"))]
FRESH = [Depends(consistent_with("compliance.screenings"))]


class SubjectPublic(BaseModel):
    ref: str = Field(description="Where on the form: the field path and list item", examples=["contacts[0].name"])
    name: str
    id_number: str = Field(description="Masked: first six and last four characters")


class HitPublic(BaseModel):
    subject: int = Field(description="Index into subjects")
    list_kind: str
    list_version: int
    entry_id: str
    entry_name: str
    score: float = Field(ge=0, le=1)
    matched_on: Literal["id", "name"]


class ScreeningPublic(BaseModel):
    id: UUID
    request_id: str
    instance_id: UUID | None
    node: str
    business_type: str
    business_line: str | None
    initiator: str
    subjects: list[SubjectPublic]
    list_versions: dict[str, int]
    threshold: float
    hits: list[HitPublic]
    hit_count: int
    status: Status = Field(description="clear (no hit), pending_review, cleared, confirmed")
    decided_by: str | None
    decision_reason: str | None
    decided_at: datetime | None
    screened_at: datetime
    version: int


class ScreeningPage(Page):
    items: list[ScreeningPublic]


class Review(BaseModel):
    decision: Literal["clear", "confirm"] = Field(description="clear: a false positive, the business goes on; "
                                                              "confirm: the person is the listed one")
    reason: str = Field(min_length=1, max_length=1000)


NOT_FOUND: Responses = {404: {"description": "`not_found`: no such screening in your business lines."}}


def _visible(policy: Policy, row: dict[str, Any]) -> ScreeningPublic:
    if not policy.sees_line(row["business_line"]):
        raise NotFoundError(f"screening {row['id']} does not exist")
    return ScreeningPublic.model_validate(row)


@router.get("", response_model=ScreeningPage, responses=INVALID_CURSOR, dependencies=FRESH,
            summary="Screenings in your business lines, newest first (status=pending_review: the review queue).")
def list_screenings(container: ContainerDep, policy: Viewer,
                    status: Annotated[list[Status] | None, Query(max_length=4)] = None,
                    cursor: Annotated[str | None, Query(max_length=1024)] = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ScreeningPage:
    after = typed_cursor(cursor, "at!", "id")
    lines = policy.principal.business_lines
    rows = container.compliance_queries.screenings(
        list(dict.fromkeys(status)) if status else None, sorted(lines) if lines is not None else None,
        (after[0], after[1]) if after else None, limit + 1)
    items = [ScreeningPublic.model_validate(r) for r in rows[:limit]]
    last = items[-1] if items else None
    return ScreeningPage(items=items, next_cursor=encode_cursor([last.screened_at.isoformat(), str(last.id)])
                         if last and len(rows) > limit else None)


@router.get("/{screening_id}", response_model=ScreeningPublic, responses=NOT_FOUND, dependencies=FRESH,
            summary="One screening: who was screened, the list versions, the hits and scores, the review (ETag).")
def get_screening(screening_id: UUID, container: ContainerDep, policy: Viewer, response: Response) -> ScreeningPublic:
    screening = _visible(policy, container.compliance_queries.screening(screening_id))
    response.headers["ETag"] = f'"{screening.version}"'
    return screening


@router.post("/{screening_id}/review", response_model=CommandAccepted, responses={
    **NOT_FOUND, 403: {"description": "`segregation_of_duties`: the business's initiator may not review it."},
    409: {"description": "`already_reviewed`; `stale_version` (If-Match)."},
    422: {"description": "`rule_violation`: the screening found no hit."}},
    summary="Review a screening's hits: clear (the business goes on) or confirm (it ends or routes as configured).")
def review_screening(screening_id: UUID, body: Review, container: ContainerDep, policy: Reviewer, ctx: Acting,
                     expected: ExpectedVersion, response: Response) -> CommandAccepted:
    _visible(policy, container.compliance_queries.screening(screening_id))
    result = container.compliance.review(ctx, screening_id, body.decision, body.reason, expected,
                                         person=policy.principal.person)
    return accepted(result, response)
