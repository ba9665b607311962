"""flows: the report engine (报表引擎, issue 15 item 3) — run a report specification (source,
dimensions, measures, filters, grain, chart kind; projections/analytics/report_engine.py) over
the flow facts within the caller's lines and departments. What a drag-and-drop board sends; saving
reports and cockpits comes next."""
from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from interfaces.api.deps import ContainerDep
from interfaces.api.routes.flow_statistics import ERRORS, READS, Scoped
from projections.analytics.flow_statistics import StatsFilter
from projections.analytics.report_engine import ReportSpec, Scope, run_report

router = APIRouter(prefix="/api/v1/flows/statistics", tags=["flows"])
INVALID = "`invalid_input`: a name outside the allow-lists (each problem names the allowed ones), or since > until"


class ReportResult(BaseModel):
    columns: list[str] = Field(description="period (with a grain), the dimensions, then the measures, in order")
    rows: list[dict[str, str | float | int | date | None]] = Field(
        description="one object per group, keyed by column")
    chart: str = Field(description="the chart kind the specification asked for")


@router.post("/reports/run", response_model=ReportResult, dependencies=READS,
             responses={404: ERRORS[404], 422: {"description": INVALID}},
             summary="Run a report specification (报表引擎) within your lines and departments.")
def run(spec: ReportSpec, container: ContainerDep, f: Scoped) -> Any:
    return run_in_scope(container, spec, f)


def run_in_scope(container: ContainerDep, spec: ReportSpec, f: StatsFilter) -> dict[str, Any]:
    """A specification run within the caller's lines and departments (and the filters' window)."""
    departments = None if f.departments is None else list(f.departments)
    if f.department is not None:  # one department, and only within the caller's scope
        departments = [f.department] if departments is None or f.department in departments else []
    stats = container.flow_statistics
    return run_report(container.clickhouse, spec, Scope(list(f.business_lines), departments),
                      since=f.since, until=f.until, timezone=stats.tz, working_day_seconds=stats.working_day_seconds)
