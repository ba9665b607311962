"""Intake (接口进线, landing pages) and imports (手动导入) with their progress."""

import tempfile
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from domain.shared.context import CommandContext
from domain.shared.errors import NotFoundError, RuleViolationError
from interfaces.api import idempotency
from interfaces.api.deps import ContainerDep
from interfaces.api.problems import ApiProblem
from interfaces.api.routes.leads.common import (
    Importing,
    _channel_line,
    _leads,
)
from interfaces.api.routes.leads.schemas import (
    ImportProgress,
    ImportReport,
    IntakeOutcome,
)

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


# -- intake -------------------------------------------------------------------------------------
class IntakeBatch(BaseModel):  # rows are checked one by one (per-row results)
    leads: list[dict[str, Any]] = Field(min_length=1, max_length=1000, description=(
        "Rows {phone, name?, fields?}; each row is checked on its own and answered in `results`"))
    privacy_consent: bool | None = Field(None, description="Landing pages that require consent refuse without it")


def intake_channel(request: Request, container: ContainerDep, x_channel_token: Annotated[str | None, Header(
        description="The channel's intake token (POST /channels/{code}/token)")] = None) -> Any:
    """Dependency: the channel behind the token (checked before the body is read) and its rate limit."""
    if not x_channel_token:
        raise ApiProblem(401, "unauthenticated", "missing X-Channel-Token header", field="X-Channel-Token")
    channel = _leads(container).authenticate_token(x_channel_token)
    allowed, retry = container.lead_rate_limiter.take(f"channel:{channel.code}") if (
        container.lead_rate_limiter) else (True, 0)
    if not allowed:
        raise ApiProblem(429, "rate_limited", f"channel {channel.code!r} exceeded "
                         f"{container.settings.leads_intake_rate_per_minute} leads per minute",
                         headers={"Retry-After": str(max(retry, 1))})
    idempotency.claim(request, f"channel:{channel.code}")
    return channel


IntakeChannel = Annotated[Any, Depends(intake_channel)]


@router.post("/intake", summary="Channel intake (接口进线): a batch of leads, one result per row.",
             response_model=IntakeOutcome, response_model_exclude_unset=True,
             responses={401: {"description": "`unknown_channel_token`"}, 429: {"description": "rate limited"},
                        404: {"description": "unknown landing page"}})
def intake(channel: IntakeChannel, body: IntakeBatch, request: Request, container: ContainerDep,
           landing_page: Annotated[str | None, Query(max_length=48, description="Submitted from this landing page")]
           = None) -> dict[str, Any]:
    limiter = container.lead_rate_limiter
    if limiter and len(body.leads) > 1:
        allowed, retry = limiter.take(f"channel:{channel.code}", len(body.leads) - 1)
        if not allowed:
            raise ApiProblem(429, "rate_limited", f"channel {channel.code!r} exceeded its per-minute lead limit",
                             headers={"Retry-After": str(max(retry, 1))})
    ctx = CommandContext(f"channel:{channel.code}", request.state.correlation_id, channel.business_line)
    return _leads(container).submit(ctx, channel.code, body.leads, landing_page, body.privacy_consent)


@router.post("/channels/{code}/imports",
             summary="Import leads from a CSV or XLSX file (手动导入): per-row results, progress in Redis.",
             response_model=ImportReport, response_model_exclude_unset=True,
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}},
                                                        "application/octet-stream": {"schema": {
                                                            "type": "string", "format": "binary"}}}}},
             responses={404: {"description": "unknown channel"},
                        413: {"description": "the file exceeds leads_import_max_bytes"},
                        422: {"description": "`invalid_import_file`: no phone column, bad encoding, ..."}})
async def import_leads(code: str, request: Request, container: ContainerDep, policy: Importing,
                       import_id: Annotated[str | None, Query(pattern=r"^[a-f0-9]{8,32}$", description=(
                           "Your id for this import, to poll GET /imports/{id} while it runs"))] = None
                       ) -> dict[str, Any]:
    line = await run_in_threadpool(_channel_line, container, policy, code)
    with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as spool:
        async for chunk in request.stream():  # the middleware stops it beyond the limit (413)
            spool.write(chunk)
        if spool.tell() == 0:
            raise RuleViolationError("the file is empty", field="body")
        spool.seek(0)
        ctx = policy.context(request.state.correlation_id, line)
        return await run_in_threadpool(lambda: _leads(container).import_file(
            ctx, code, spool, business_line=line, started_by=policy.principal.actor, import_id=import_id))


@router.get("/imports/{import_id}", response_model=ImportProgress, response_model_exclude_unset=True,
            responses={404: {"description": "unknown (or older than a day)"}},
            summary="Progress of an import (rows done, counts, status).")
def import_progress(import_id: str, container: ContainerDep, policy: Importing) -> dict[str, Any]:
    report = _leads(container).import_progress(import_id)
    # Only its starter, or someone of its business line with an unrestricted data scope, sees it.
    if report is None or not policy.sees_line(report.get("business_line")) or (
            report.get("started_by") != policy.principal.actor and policy.principal.departments is not None):
        raise NotFoundError(f"import {import_id!r} is unknown (or older than a day)")
    return report

