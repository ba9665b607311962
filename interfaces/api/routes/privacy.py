"""Privacy: erasure requests (PIPL art. 47, ADR 0028, docs/privacy.md). Erasing a subject
destroys its key: every personal value of it reads as "erased" from then on, the read models
are redacted when they apply the erasure, and the erasure itself stays in the audit trail."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from application.privacy.app import ErasureResult
from domain.shared.errors import PermissionDeniedError
from interfaces.api.deps import Acting, ContainerDep, requires

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])
Eraser = Annotated[Policy, Depends(requires("privacy.erase"))]


class ErasureCreate(BaseModel):
    subject_kind: Literal["lead", "customer"] = Field(description="Whose personal data: a lead or a customer")
    subject_id: UUID = Field(description="The lead's id, or the customer's id (as the audit trail shows it)")
    reason: str = Field(min_length=1, max_length=500, examples=["PIPL art. 47 request of 2026-11-20, ticket 4711"])


class ErasurePublic(BaseModel):
    id: UUID = Field(description="The erasure record (its audit trail holds the SubjectErased event)")
    subject_kind: str
    subject_id: UUID
    erased_at: datetime
    requested_by: str
    position: int = Field(description="Pass as wait_for_position to read the redacted read models")
    already_erased: bool = Field(description="True: erased before by an earlier request; nothing new recorded")


def _require_firm_wide(policy: Policy) -> None:
    """Erasure is irreversible and reaches every record of the subject, whichever line or
    department holds it: only a holder of ``privacy.erase`` scoped over the whole firm may ask."""
    if policy.principal.business_lines is not None or policy.principal.departments is not None:
        raise PermissionDeniedError("erasure needs a scope over every business line and department")


def _public(result: ErasureResult, response: Response) -> ErasurePublic:
    response.headers["X-Event-Position"] = str(result.position)
    response.headers["Cache-Control"] = "no-store"
    return ErasurePublic(id=result.id, subject_kind=result.subject_kind, subject_id=result.subject_id,
                         erased_at=result.erased_at, requested_by=result.requested_by, position=result.position,
                         already_erased=result.already)


@router.post("/erasures", response_model=ErasurePublic, status_code=201,
             summary="Erase a data subject's personal data (destroys its key; idempotent).",
             responses={200: {"description": "The subject was erased before: the first erasure's record.",
                              "model": ErasurePublic},
                        404: {"description": "No such lead or customer."}})
def erase(body: ErasureCreate, container: ContainerDep, policy: Eraser, ctx: Acting,
          response: Response) -> ErasurePublic:
    _require_firm_wide(policy)
    result = container.privacy.erase(ctx, body.subject_kind, body.subject_id, body.reason)
    if result.already:
        response.status_code = 200
    return _public(result, response)


@router.get("/erasures/{subject_kind}/{subject_id}", response_model=ErasurePublic,
            summary="The erasure of a subject, if it was erased.",
            responses={404: {"description": "The subject was not erased (or does not exist)."}})
def erasure(subject_kind: Literal["lead", "customer"], subject_id: UUID, container: ContainerDep, policy: Eraser,
            response: Response) -> ErasurePublic:
    return _public(container.privacy.erasure(subject_kind, subject_id), response)
