"""flows: statistics and KPIs over the flow facts in ClickHouse (流程统计, issue 15 item 2; 004 §7):
volumes, slow businesses and nodes, SLA attainment, first-pass rate, rejection reasons, handler
ranking, stage times per department, and a business type's KPI set — JSON, CSV or XLSX.

Figures count only facts in the caller's business lines (all of them, or the one asked for) and
data-scope departments; facts are read as the analytics sink holds them (``wait_for_position``
waits for it)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator

from application.access.policy import Policy
from domain.shared.errors import InvalidInputError, NotFoundError
from domain.shared.ids import natural_id
from interfaces.api.deps import ContainerDep, consistent_with, requires
from interfaces.api.problems import Responses
from interfaces.api.routes.flow_statistics import schemas as s
from interfaces.api.routes.flow_statistics.export import EXPORT_200, export
from projections.analytics.flow_statistics import Grain, StatsFilter

router = APIRouter(prefix="/api/v1/flows/statistics", tags=["flows"])
Statistician = Annotated[Policy, Depends(requires("flows.statistics.view"))]
READS = [Depends(consistent_with("analytics.flow_facts", "flows.definitions"))]
Text = Annotated[str | None, Query(min_length=1, max_length=64)]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, or a download: csv / xlsx")]
GrainQuery = Annotated[Grain | None, Query(description="Bucket per day, week (from Monday) or month")]
# What ClickHouse DateTime64 holds.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2105, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
ERRORS: Responses = {
    **EXPORT_200,
    404: {"description": "`not_found` (field `business_line`): the business line does not exist or is not yours"}}


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def _in_range(value: datetime | None) -> datetime | None:
    if value is not None and not EARLIEST <= _aware(value) <= LATEST:
        raise ValueError("must lie between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z")
    return value


Instant = Annotated[datetime | None, AfterValidator(_in_range), Query(
    description="ISO 8601 date-time (no zone: UTC); since inclusive, until exclusive")]


def _lines(container: ContainerDep, policy: Policy, line: str | None) -> list[str]:
    """The one line asked for (404 unless it exists and is the caller's, the same answer for both),
    else every line the caller works in."""
    if line is not None:
        policy.require_line(f"business line {line!r}", line, field="business_line")
        if not container.access.exists(natural_id("business_line", line)):
            raise NotFoundError(f"business line {line!r} does not exist", field="business_line")
        return [line]
    lines = [r["code"] for r in container.access_queries.business_lines() if policy.sees_line(r["code"])]
    if not lines:
        raise NotFoundError("you work in no business line", field="business_line")
    return lines


def scope_filter(container: ContainerDep, policy: Statistician,
                 business_line: Annotated[str | None, Query(min_length=1, max_length=32, description=(
                     "One of your business lines (default: all of them)"))] = None,
                 since: Instant = None, until: Instant = None, definition_key: Text = None,
                 department_id: Annotated[UUID | None, Query(description="One department (within your scope)")]
                 = None) -> StatsFilter:
    if since is not None and until is not None and _aware(since) > _aware(until):
        raise InvalidInputError("since is after until", [{"path": "since", "message": "since is after until"}])
    scope = policy.principal.departments  # investor-account grants reach no figures: facts carry none
    return StatsFilter(business_lines=_lines(container, policy, business_line),
                       departments=None if scope is None else sorted(str(d) for d in scope),
                       since=since, until=until, definition_key=definition_key,
                       department=None if department_id is None else str(department_id))


Scoped = Annotated[StatsFilter, Depends(scope_filter)]


def stats_filter(f: Scoped, business_type: Text = None) -> StatsFilter:
    return replace(f, business_type=business_type)


Filter = Annotated[StatsFilter, Depends(stats_filter)]


def _answer(data: dict[str, Any], fmt: str, name: str) -> Any:
    return data if fmt == "json" else export(data, fmt, name)


@router.get("/volume", response_model=s.VolumePublic, dependencies=READS, responses=ERRORS,
            summary="业务量 / 热门业务: instances started per business type (and period), and how they stand.")
def volume(container: ContainerDep, f: Filter, grain: GrainQuery = None, format: Format = "json") -> Any:
    return _answer(container.flow_statistics.volume(f, grain), format, "flow-volume")


@router.get("/slow-businesses", response_model=s.SlowBusinessesPublic, dependencies=READS, responses=ERRORS,
            summary="慢业务: ended instances per business type with average, median and p90 working and wall time.")
def slow_businesses(container: ContainerDep, f: Filter, grain: GrainQuery = None, format: Format = "json") -> Any:
    return _answer(container.flow_statistics.slow(f, grain), format, "flow-slow-businesses")


@router.get("/slow-nodes", response_model=s.SlowNodesPublic, dependencies=READS, responses=ERRORS,
            summary="慢节点: decided node visits per node with average, median and p90 working time.")
def slow_nodes(container: ContainerDep, f: Filter, grain: GrainQuery = None, format: Format = "json") -> Any:
    return _answer(container.flow_statistics.slow_nodes(f, grain), format, "flow-slow-nodes")


@router.get("/timeliness", response_model=s.TimelinessPublic, dependencies=READS, responses=ERRORS,
            summary="时效达成率: the share of decided visits with an SLA that met it, per node, department and "
                    "handler.")
def timeliness(container: ContainerDep, f: Filter, grain: GrainQuery = None, format: Format = "json") -> Any:
    return _answer(container.flow_statistics.timeliness(f, grain), format, "flow-timeliness")


@router.get("/first-pass", response_model=s.FirstPassPublic, dependencies=READS, responses=ERRORS,
            summary="一次通过率: completed instances never returned, per business type (and period).")
def first_pass(container: ContainerDep, f: Filter, grain: GrainQuery = None, format: Format = "json") -> Any:
    return _answer(container.flow_statistics.first_pass(f, grain), format, "flow-first-pass")


@router.get("/rejections", response_model=s.RejectionsPublic, dependencies=READS, responses=ERRORS,
            summary="驳回与退回: rejections and returns per node, handler and reason code, marked as counted for "
                    "assessment or not by the flow version's reason codes.")
def rejections(container: ContainerDep, f: Filter, grain: GrainQuery = None, format: Format = "json") -> Any:
    return _answer(container.flow_statistics.rejections(f, grain), format, "flow-rejections")


@router.get("/handlers", response_model=s.HandlersPublic, dependencies=READS, responses=ERRORS,
            summary="处理人排名: decisions per person with average handling time (working and wall).")
def handlers(container: ContainerDep, f: Filter, grain: GrainQuery = None, format: Format = "json") -> Any:
    return _answer(container.flow_statistics.handlers(f, grain), format, "flow-handlers")


@router.get("/stages", response_model=s.StagesPublic, dependencies=READS, responses=ERRORS,
            summary="环节用时: decided visits per department with average and median working time.")
def stages(container: ContainerDep, f: Filter, grain: GrainQuery = None, format: Format = "json") -> Any:
    return _answer(container.flow_statistics.stages(f, grain), format, "flow-stages")


@router.get("/kpi/{business_type}", response_model=s.KpiPublic, dependencies=READS, responses=ERRORS,
            summary="KPI (004): average cycle in working days against 5, stage time per department, first-pass "
                    "rate against 0.8, rejection reasons.")
def kpi(container: ContainerDep, f: Scoped,
        business_type: Annotated[str, Path(min_length=1, max_length=64)], format: Format = "json") -> Any:
    return _answer(container.flow_statistics.kpi(business_type, f), format, "flow-kpi")
