"""flows: saved reports and cockpits (报表引擎 / 管理驾驶舱, issue 15 item 3) — what a drag-and-drop
board saves under a key, and runs within the caller's lines and departments. Saving needs
`flows.reports.manage`; reading and running, `flows.statistics.view` (figures are always the
caller's own: the same report shows each viewer their scope)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.flows.report_spec import ReportSpec
from interfaces.api.deps import Acting, ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.routes.flow_statistics import READS, Scoped
from interfaces.api.routes.flow_statistics.reports import ReportResult, run_in_scope
from interfaces.api.schemas import CommandAccepted, Page, accepted

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])
Viewer = Annotated[Policy, Depends(requires("flows.statistics.view"))]
Designer = Annotated[Policy, Depends(requires("flows.reports.manage"))]
Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,47}$", description="The report's or cockpit's key")]
Limit = Annotated[int, Query(ge=1, le=200)]
LISTED = [Depends(consistent_with("flows.reports"))]
NOT_FOUND: Responses = {404: {"description": "`not_found`: no such report or cockpit (or a cockpit names one "
                                             "that does not exist)"}}
SAVE: Responses = {**NOT_FOUND, 409: {"description": "`stale`: changed since the version in If-Match"},
                   422: {"description": "`invalid_report`: the specification names something outside the "
                                        "allow-lists (each problem names the allowed ones)"}}


class ReportSave(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    spec: ReportSpec


class ReportPublic(BaseModel):
    key: str
    name: str
    spec: ReportSpec
    owner: str
    version: int
    updated_at: datetime | None = None


class ReportsPage(Page):
    items: list[ReportPublic]


class CockpitSave(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    reports: list[str] = Field(min_length=1, max_length=24, description="saved reports' keys, in board order")


class CockpitPublic(BaseModel):
    key: str
    name: str
    reports: list[str]
    owner: str
    version: int
    updated_at: datetime | None = None


class CockpitsPage(Page):
    items: list[CockpitPublic]


class CockpitBoard(BaseModel):
    key: str
    name: str
    result: ReportResult | None = Field(description="null: the report was deleted since the cockpit was saved")


class CockpitResult(BaseModel):
    key: str
    name: str
    boards: list[CockpitBoard]


def _page(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """A keyset page by key: the rows to show and the cursor of the next (``limit + 1`` were read)."""
    return rows[:limit], encode_cursor([rows[limit - 1]["key"]]) if len(rows) > limit else None


# -- reports -------------------------------------------------------------------------------------------
@router.get("/reports", response_model=ReportsPage, dependencies=LISTED, responses=INVALID_CURSOR,
            summary="Saved reports, by key.")
def list_reports(container: ContainerDep, policy: Viewer, limit: Limit = 50, cursor: str | None = None) -> Any:
    after = typed_cursor(cursor, "text")
    rows, next_cursor = _page(container.flow_report_queries.reports(after=after[0] if after else None,
                                                                    limit=limit + 1), limit)
    return ReportsPage(items=[ReportPublic(**r) for r in rows], next_cursor=next_cursor)


@router.put("/reports/{key}", response_model=CommandAccepted, responses=SAVE,
            summary="Save a report under its key (create, or revise with If-Match).")
def save_report(key: Key, body: ReportSave, container: ContainerDep, policy: Designer, ctx: Acting,
                expected: ExpectedVersion, response: Response) -> CommandAccepted:
    return accepted(container.flow_reports.save_report(ctx, key, body.name, body.spec.model_dump(mode="json"),
                                                       expected), response)


@router.get("/reports/{key}", response_model=ReportPublic, responses=NOT_FOUND, summary="One saved report.")
def get_report(key: Key, container: ContainerDep, policy: Viewer, response: Response) -> Any:
    report = container.flow_reports.report(key)
    response.headers["ETag"] = f'"{report.version}"'
    return ReportPublic(key=report.key, name=report.name, spec=ReportSpec.model_validate(report.spec),
                        owner=report.owner, version=report.version)


@router.delete("/reports/{key}", response_model=CommandAccepted, responses=SAVE, summary="Delete a saved report.")
def delete_report(key: Key, container: ContainerDep, policy: Designer, ctx: Acting, expected: ExpectedVersion,
                  response: Response) -> CommandAccepted:
    return accepted(container.flow_reports.delete_report(ctx, key, expected), response)


@router.post("/reports/{key}/run", response_model=ReportResult, dependencies=READS, responses=NOT_FOUND,
             summary="Run a saved report within your lines and departments (same filters as the statistics).")
def run_saved(key: Key, container: ContainerDep, f: Scoped) -> Any:
    return run_in_scope(container, ReportSpec.model_validate(container.flow_reports.report(key).spec), f)


# -- cockpits ------------------------------------------------------------------------------------------
@router.get("/cockpits", response_model=CockpitsPage, dependencies=LISTED, responses=INVALID_CURSOR,
            summary="Cockpits (管理驾驶舱), by key.")
def list_cockpits(container: ContainerDep, policy: Viewer, limit: Limit = 50, cursor: str | None = None) -> Any:
    after = typed_cursor(cursor, "text")
    rows, next_cursor = _page(container.flow_report_queries.cockpits(after=after[0] if after else None,
                                                                     limit=limit + 1), limit)
    return CockpitsPage(items=[CockpitPublic(**r) for r in rows], next_cursor=next_cursor)


@router.put("/cockpits/{key}", response_model=CommandAccepted, responses=SAVE,
            summary="Save a cockpit: a name and the saved reports on it, in order.")
def save_cockpit(key: Key, body: CockpitSave, container: ContainerDep, policy: Designer, ctx: Acting,
                 expected: ExpectedVersion, response: Response) -> CommandAccepted:
    return accepted(container.flow_reports.save_cockpit(ctx, key, body.name, body.reports, expected),
                    response)


@router.delete("/cockpits/{key}", response_model=CommandAccepted, responses=SAVE, summary="Delete a cockpit.")
def delete_cockpit(key: Key, container: ContainerDep, policy: Designer, ctx: Acting, expected: ExpectedVersion,
                   response: Response) -> CommandAccepted:
    return accepted(container.flow_reports.delete_cockpit(ctx, key, expected), response)


@router.post("/cockpits/{key}/run", response_model=CockpitResult, dependencies=READS, responses=NOT_FOUND,
             summary="Run every report of a cockpit within your lines and departments.")
def run_cockpit(key: Key, container: ContainerDep, f: Scoped) -> Any:
    cockpit = container.flow_reports.cockpit(key)
    boards = []
    for report_key in cockpit.reports:
        report = container.flow_reports.board(report_key)
        boards.append(CockpitBoard(key=report_key, name=report.name, result=None if report.deleted else ReportResult(
            **run_in_scope(container, ReportSpec.model_validate(report.spec), f))))
    return CockpitResult(key=cockpit.key, name=cockpit.name, boards=boards)
