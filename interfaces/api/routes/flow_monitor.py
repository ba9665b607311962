"""flows: the monitoring board (流程监控 / 004 §7.1 流程看板) — every instance in your lines and data
scope, filtered, sorted and keyset-paged; counts per current node and per department; CSV.

Registered before the instance routes: `/instances/board` must not be read as an instance id."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from application.access.policy import Policy
from application.shared.spreadsheet import safe_cell
from interfaces.api.deps import ContainerDep, consistent_with, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.routes.flow_instances import InstanceSummaryPublic, Instant, Keyword, Limit, _iso, present_summary
from interfaces.api.schemas import Page

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])
READS = Depends(consistent_with("flows.instances"))
Monitor = Annotated[Policy, Depends(requires("flows.instances.monitor"))]
Text = Annotated[str | None, Query(min_length=1, max_length=64)]
EXPORT_LIMIT = 10_000


class BoardFilters(BaseModel):
    """The board's filters; every one optional, all combined with AND."""
    status: Literal["running", "completed", "rejected", "withdrawn", "terminated"] | None = None
    business_type: str | None = None
    definition: str | None = None
    version: int | None = None
    node: str | None = None
    department: UUID | None = None
    initiator: str | None = None
    handler: str | None = None
    overdue: bool | None = None
    urgent: bool | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    ended_from: datetime | None = None
    ended_to: datetime | None = None
    keyword: str | None = None


def board_filters(
        status: Annotated[Literal["running", "completed", "rejected", "withdrawn", "terminated"] | None,
                          Query()] = None,
        business_type: Text = None, definition: Text = None,
        version: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Definition version")] = None,
        node: Annotated[str | None, Query(min_length=1, max_length=64, description="A current node id")] = None,
        department: Annotated[UUID | None, Query(description="Owning department")] = None,
        initiator: Text = None,
        handler: Annotated[str | None, Query(min_length=1, max_length=64, description="A current handler")] = None,
        overdue: bool | None = None, urgent: bool | None = None,
        started_from: datetime | None = None, started_to: datetime | None = None,
        ended_from: datetime | None = None, ended_to: datetime | None = None,
        keyword: Keyword = None) -> BoardFilters:
    return BoardFilters(status=status, business_type=business_type, definition=definition, version=version,
                        node=node, department=department, initiator=initiator, handler=handler, overdue=overdue,
                        urgent=urgent, started_from=started_from, started_to=started_to, ended_from=ended_from,
                        ended_to=ended_to, keyword=keyword)


Filters = Annotated[BoardFilters, Depends(board_filters)]
Sort = Annotated[Literal["started", "updated", "sla_due"], Query(
    description="started / updated: newest first; sla_due: earliest SLA due first (none last)")]


class MonitoredInstancePublic(InstanceSummaryPublic):
    current_node_names: list[str] = Field(description="Names of current_nodes, in the same order")
    handlers: list[str] = Field(description="Who holds an open task now (当前处理人)")
    overdue: bool = Field(description="An open task is past its SLA")
    urgent: bool = Field(description="An open task is urgent (urged or SLA warned)")
    sla_due_at: Instant | None = Field(description="Earliest SLA due of the open tasks")
    ended_at: Instant | None


class MonitorPage(Page):
    items: list[MonitoredInstancePublic]


class NodeCountPublic(BaseModel):
    definition_key: str
    node: str
    node_name: str
    count: int
    overdue: int
    urgent: int


class DepartmentCountPublic(BaseModel):
    department_id: UUID | None
    department_name: str | None
    count: int
    overdue: int
    urgent: int


class TotalsPublic(BaseModel):
    count: int
    overdue: int
    urgent: int


class BoardPublic(BaseModel):
    total: TotalsPublic
    by_node: list[NodeCountPublic] = Field(description="Instances per current node (an instance in two "
                                                       "parallel branches counts at both)")
    by_department: list[DepartmentCountPublic]


def _page(container: ContainerDep, policy: Policy, filters: BoardFilters, sort: str, after: Any,
          limit: int) -> tuple[list[dict[str, Any]], str | None]:
    rows = container.instance_queries.monitor.instances(policy.scope_params(), filters.model_dump(), sort=sort,
                                                        after=after, limit=limit + 1)
    items = rows[:limit]
    nxt = None
    if len(rows) > limit:
        last = items[-1]
        at = {"started": last["started_at"], "updated": last["updated_at"], "sla_due": last["sla_due_at"]}[sort]
        nxt = encode_cursor([_iso(at), str(last["id"])])
    for r in items:
        r["summary"] = present_summary(policy, r["summary"])
    return items, nxt


@router.get("/instances", response_model=MonitorPage, dependencies=[READS], responses=INVALID_CURSOR,
            summary="Monitoring: find instances in your lines and scope — filters, sorts, keyset paging.")
def monitor(container: ContainerDep, policy: Monitor, filters: Filters, sort: Sort = "started",
            cursor: str | None = None, limit: Limit = 50) -> MonitorPage:
    items, nxt = _page(container, policy, filters, sort, typed_cursor(cursor, "at", "id"), limit)
    return MonitorPage(items=[MonitoredInstancePublic(**r) for r in items], next_cursor=nxt)


@router.get("/instances/board", response_model=BoardPublic, dependencies=[READS],
            summary="Monitoring board (流程看板): counts per current node and per department, with overdue and "
                    "urgent, under the same filters as the list (default: running).")
def board(container: ContainerDep, policy: Monitor, filters: Filters) -> BoardPublic:
    if filters.status is None:
        filters = filters.model_copy(update={"status": "running"})
    counts = container.instance_queries.monitor.board(policy.scope_params(), filters.model_dump())
    return BoardPublic(total=TotalsPublic(**counts["total"]),
                       by_node=[NodeCountPublic(**r) for r in counts["by_node"]],
                       by_department=[DepartmentCountPublic(**r) for r in counts["by_department"]])


COLUMNS = ("id", "title", "status", "business_type", "definition_key", "definition_version", "business_line",
           "department_id", "fund_account", "initiator", "current_nodes", "current_node_names", "handlers",
           "overdue", "urgent", "sla_due_at", "started_at", "updated_at", "ended_at")


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        value = "|".join(str(v) for v in value)
    elif isinstance(value, datetime):
        value = value.isoformat()
    elif value is None:
        value = ""
    return safe_cell(value if isinstance(value, (str, int, float, bool)) else str(value))


@router.get("/instances/export", response_class=StreamingResponse, dependencies=[READS],
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
            summary=f"Monitoring: the filtered list as CSV (at most {EXPORT_LIMIT:,} rows; summary fields through "
                    "the field rules; cells that a spreadsheet would run as formulas are neutralised).")
def export(container: ContainerDep, policy: Monitor, filters: Filters, sort: Sort = "started") -> StreamingResponse:
    rows: list[dict[str, Any]] = []
    after = None
    while len(rows) < EXPORT_LIMIT:  # page through, so a large firm never loads in one query
        page, nxt = _page(container, policy, filters, sort, after, min(1000, EXPORT_LIMIT - len(rows)))
        rows += page
        if nxt is None:
            break
        last = page[-1]
        after = ({"started": last["started_at"], "updated": last["updated_at"], "sla_due": last["sla_due_at"]}[sort],
                 last["id"])
    paths = list(dict.fromkeys(p for r in rows for p in r["summary"]))

    def lines() -> Iterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([*COLUMNS, *(f"summary:{p}" for p in paths)])
        for r in rows:
            writer.writerow([_cell(r.get(c)) for c in COLUMNS] + [_cell(r["summary"].get(p)) for p in paths])
        yield out.getvalue().encode("utf-8-sig")
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="flow-instances.csv"'})
