"""Conversion analytics per channel and per employee (JSON or CSV)."""

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from application.shared.spreadsheet import safe_cell
from interfaces.api.deps import ContainerDep
from interfaces.api.routes.leads.common import (
    LINE_404,
    Analyst,
    Instant,
    _departments,
    _line,
    _range,
)
from interfaces.api.routes.leads.schemas import (
    CSV_200,
    ChannelFunnels,
    EmployeeFunnels,
)

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


# -- analytics ---------------------------------------------------------------------------------------------
Granularity = Literal["day", "week", "month"]
COLUMNS = ("valid", "wechat", "wechat_rate", "connected", "connected_rate", "intent", "intent_rate", "opened_net",
           "opened_net_rate", "opened", "opened_rate")


def _csv(rows: list[dict[str, Any]], keys: tuple[str, ...], filename: str) -> StreamingResponse:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow((*keys, *COLUMNS))
    for r in rows:
        writer.writerow([safe_cell(r.get(k, "")) for k in (*keys, *COLUMNS)])
    return StreamingResponse(iter([buf.getvalue().encode("utf-8-sig")]), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/analytics/channels", response_model=ChannelFunnels, response_model_exclude_unset=True,
            responses={200: CSV_200, **LINE_404},
            summary="应用市场推广效果分析: funnel per channel (and per period).")
def channel_analytics(container: ContainerDep, policy: Analyst, business_line: Annotated[str, Query(max_length=32)],
                      granularity: Granularity | None = None, since: Instant = None,
                      until: Instant = None, channel: Annotated[str | None, Query(max_length=48)] = None,
                      format: Annotated[Literal["json", "csv"], Query()] = "json") -> Any:
    _range(since, until)
    data = container.lead_analytics.by_channel(_line(container, policy, business_line), granularity=granularity,
                                               since=since, until=until, channel=channel,
                                               departments=_departments(policy))
    if format == "csv":
        keys = (("period",) if granularity else ()) + ("channel_code",)
        return _csv([*data["rows"], {"channel_code": "合计", **data["total"]}], keys, "channels.csv")
    return data


@router.get("/analytics/employees", response_model=EmployeeFunnels, response_model_exclude_unset=True,
            responses={200: CSV_200, **LINE_404},
            summary="人员管理: funnel per employee × channel (and per period).")
def employee_analytics(container: ContainerDep, policy: Analyst,
                       business_line: Annotated[str, Query(max_length=32)], granularity: Granularity | None = None,
                       since: Instant = None, until: Instant = None,
                       channel: Annotated[str | None, Query(max_length=48)] = None,
                       employee: Annotated[str | None, Query(max_length=60)] = None,
                       format: Annotated[Literal["json", "csv"], Query()] = "json") -> Any:
    _range(since, until)
    data = container.lead_analytics.by_employee(_line(container, policy, business_line), granularity=granularity,
                                                since=since, until=until, channel=channel, employee=employee,
                                                departments=_departments(policy))
    if format == "csv":
        keys = (("period",) if granularity else ()) + ("employee", "channel_code")
        rows = [*data["rows"], *({**r, "channel_code": "全部"} for r in data["all_channels"])]
        return _csv(rows, keys, "employees.csv")
    return data

