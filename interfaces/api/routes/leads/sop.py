"""Segments (客群) and SOP tasks (自动化任务)."""

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field, ValidationError

from application.leads.inputs import ScreenedBody
from domain.leads.segment import SegmentConfig, SegmentFilter, SopConfig, day_bounds
from interfaces.api.deps import ContainerDep
from interfaces.api.routes.leads.common import (
    LINE_404,
    READS,
    Code,
    RuleAdmin,
    Viewer,
    _departments,
    _invalid,
    _leads,
    _line,
    _require_covers,
    _require_unrestricted,
)
from interfaces.api.routes.leads.schemas import (
    SegmentPublic,
    SopRun,
    SopTaskPublic,
)
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


class SegmentBody(ScreenedBody):
    name: str = Field(min_length=1, max_length=100, examples=["未跟进 | 新线索"])
    filter: SegmentFilter = Field(default_factory=SegmentFilter)


class SopBody(ScreenedBody):
    name: str = Field(min_length=1, max_length=100)
    segments: list[str] = Field(min_length=1, max_length=20)
    action: Literal["sms", "call"]
    template: str | None = Field(None, max_length=60)
    content: str | None = Field(None, max_length=1000)
    mode: Literal["immediate", "fixed_time"] = "immediate"
    at_time: str | None = Field(None, pattern=r"^\d{2}:\d{2}$")
    start: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    end: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    enabled: bool = True



# -- segments and SOP tasks -----------------------------------------------------------------------------
@router.put("/segments/{business_line}/{key}", response_model=CommandAccepted, responses=LINE_404,
            summary="Save a segment (客群): a named filter over the leads.")
def save_segment(business_line: str, key: Code, body: SegmentBody, request: Request, container: ContainerDep,
                 policy: RuleAdmin, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    config = SegmentConfig(key=key, name=body.name, filter=body.filter)
    return accepted(_leads(container).save_segment(ctx, business_line, config), response)


@router.get("/segments", dependencies=[READS], response_model=list[SegmentPublic],
            summary="Segments with live counts (within your scope).")
def list_segments(container: ContainerDep, policy: Viewer) -> list[dict[str, Any]]:
    today, tomorrow = day_bounds(_leads(container).clock(), container.settings.leads_report_timezone)
    scope = policy.scope_params()
    return [{**s, "count": container.lead_queries.segment_count(scope, s["business_line"], s["filter"], today,
                                                                  tomorrow)}
            for s in container.lead_queries.segments(scope)]


@router.put("/sop-tasks/{business_line}/{key}", response_model=CommandAccepted,
            summary="Save an SOP task: SMS or outbound call to segments, once per phone.",
            responses={**LINE_404, 422: {"description": "`sensitive_content`: the SMS text holds a blocked word"}})
def save_sop(business_line: str, key: Code, body: SopBody, request: Request, container: ContainerDep,
             policy: RuleAdmin, response: Response) -> CommandAccepted:
    try:
        config = SopConfig.model_validate({**body.model_dump(mode="json"), "key": key})
    except ValidationError as exc:
        raise _invalid(exc) from None
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    existing = _leads(container).sop_task(business_line, key)
    if existing is not None:
        _require_covers(policy, existing.data_scope())
    departments = _departments(policy)
    return accepted(_leads(container).save_sop(ctx, business_line, config, departments), response)


@router.get("/sop-tasks", dependencies=[READS], response_model=list[SopTaskPublic],
            summary="SOP tasks with how many leads each reached.")
def list_sop(container: ContainerDep, policy: RuleAdmin) -> list[dict[str, Any]]:
    return container.lead_queries.sop_tasks(policy.scope_params())


@router.post("/sop-tasks/{business_line}/run-now", response_model=SopRun,
             responses={**LINE_404, 503: {"description": "`read_model_lagging`: the leads read model has not "
                                                         "reached the saves made before the call yet; retry"}},
             summary="Run the business line's due SOP tasks now (once every earlier save is readable).")
def run_sop_now(business_line: str, container: ContainerDep, policy: RuleAdmin) -> SopRun:
    _require_unrestricted(policy, "the run covers every SOP task of the business line")
    return SopRun(**container.lead_sop.tick([_line(container, policy, business_line)]))

