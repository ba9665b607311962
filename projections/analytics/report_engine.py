"""The report engine (报表引擎, seed 001 §四): a report is a *specification* (domain/flows/report_spec.py)
— a source, dimensions, measures, filters, a time grain and a chart kind — compiled here to parameterised ClickHouse SQL
over the flow facts (docs/analytics.md). Every name in a specification is looked up in the
allow-lists below, and every value a user gives travels as a query parameter: no text from a
request ever becomes SQL. The caller's business lines and departments (their data scope) are
added to every query's WHERE, whatever the specification says.

This is what a UI's drag-and-drop board saves (a cockpit is a saved set of reports)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.flows.report_spec import DIMENSION_NAMES, FILTER_NAMES, MEASURE_NAMES, ReportSpec
from projections.analytics.scope import CONDITION as SCOPE
from projections.analytics.scope import Scope

__all__ = ["ReportSpec", "Scope", "compile_report", "run_report"]

TABLES: dict[str, tuple[str, str]] = {   # source -> (table, its time column)
    "instances": ("flow_instance_facts", "started_at"),
    "visits": ("flow_visit_facts", "entered_at"),
    "decisions": ("flow_decision_facts", "occurred_at"),
}
COMMON_DIMENSIONS = {"business_type": "business_type", "definition_key": "definition_key",
                     "business_line": "business_line", "department": "toString(department_id)"}
DIMENSIONS: dict[str, dict[str, str]] = {
    "instances": {**COMMON_DIMENSIONS, "outcome": "outcome", "initiator": "initiator"},
    "visits": {**COMMON_DIMENSIONS, "node": "node", "outcome": "outcome", "reason_code": "reason_code",
               "handler": "arrayJoin(if(empty(decided_by), [''], decided_by))"},
    "decisions": {**COMMON_DIMENSIONS, "node": "node", "decision": "decision", "handler": "handler",
                  "reason_code": "reason_code"},
}
_CLOSED = "outcome NOT IN ('open', 'cancelled')"
MEASURES: dict[str, dict[str, str]] = {
    "instances": {
        "count": "count()",
        "completed": "countIf(outcome = 'completed')",
        "rejected": "countIf(outcome = 'rejected')",
        "running": "countIf(outcome = 'running')",
        "first_pass_rate": "countIf(first_pass = 1) / nullIf(countIf(outcome = 'completed'), 0)",
        "sla_met_rate": "countIf(sla_met = 1 AND outcome != 'running') / nullIf(countIf(outcome != 'running'), 0)",
        "avg_working_days": "avgIf(working_seconds, outcome != 'running') / {working_day:Float64}",
        "p50_working_hours": "quantilesExactIf(0.5, 0.9)(working_seconds, outcome != 'running')[1] / 3600",
        "p90_working_hours": "quantilesExactIf(0.5, 0.9)(working_seconds, outcome != 'running')[2] / 3600",
        "returns": "sum(returns)",
    },
    "visits": {
        "count": "count()",
        "avg_working_hours": f"avgIf(working_seconds, {_CLOSED}) / 3600",
        # One sort for both levels: ClickHouse computes an identical aggregate once per query.
        "p50_working_hours": f"quantilesExactIf(0.5, 0.9)(working_seconds, {_CLOSED})[1] / 3600",
        "p90_working_hours": f"quantilesExactIf(0.5, 0.9)(working_seconds, {_CLOSED})[2] / 3600",
        "sla_attainment": f"countIf(sla_breached = 0 AND sla_due_at IS NOT NULL AND {_CLOSED})"
                          f" / nullIf(countIf(sla_due_at IS NOT NULL AND {_CLOSED}), 0)",
        "breached": "countIf(sla_breached = 1)",
        "returned": "countIf(outcome = 'returned')",
    },
    "decisions": {
        "count": "count()",
        "approvals": "countIf(decision = 'approved')",
        "rejections": "countIf(decision = 'rejected')",
        "returns": "countIf(decision = 'returned')",
        "avg_handling_working_hours": "avg(handling_working_seconds) / 3600",
        "avg_handling_hours": "avg(handling_seconds) / 3600",
    },
}
FILTERS: dict[str, dict[str, str]] = {   # filter -> column, per source (values are parameters)
    "instances": {"business_type": "business_type", "definition_key": "definition_key", "outcome": "outcome"},
    "visits": {"business_type": "business_type", "definition_key": "definition_key", "node": "node",
               "outcome": "outcome", "reason_code": "reason_code"},
    "decisions": {"business_type": "business_type", "definition_key": "definition_key", "node": "node",
                  "decision": "decision", "handler": "handler", "reason_code": "reason_code"},
}
TS = "Nullable(DateTime64(6, 'UTC'))"
BUCKETS = {"day": "toStartOfDay", "week": "toMonday", "month": "toStartOfMonth"}
# The names a specification may use are the domain's (domain/flows/report_spec.py); each has its SQL here.
assert all(set(DIMENSIONS[s]) == DIMENSION_NAMES[s] and set(MEASURES[s]) == MEASURE_NAMES[s]
           and set(FILTERS[s]) == FILTER_NAMES[s] for s in TABLES), "report names and their SQL differ"


def compile_report(spec: ReportSpec, scope: Scope, db: str, *, since: datetime | None = None,
                   until: datetime | None = None, timezone: str = "Asia/Shanghai",
                   working_day_seconds: float = 27_000.0) -> tuple[str, dict[str, Any]]:
    """(sql, parameters) for ``spec`` within ``scope``; ``db`` is the analytics database's quoted
    identifier (from configuration, never from a request)."""
    table, time_column = TABLES[spec.source]
    dims, measures = DIMENSIONS[spec.source], MEASURES[spec.source]
    select, group = [], []
    if spec.grain is not None:
        select.append(f"toDate({BUCKETS[spec.grain]}(toTimeZone({time_column}, {{tz:String}}))) AS period")
        group.append("period")
    for d in spec.dimensions:
        select.append(f"{dims[d]} AS {d}")
        group.append(d)
    select += [f"{measures[m]} AS {m}" for m in spec.measures]
    where = [SCOPE, f"({{since:{TS}}} IS NULL OR {time_column} >= {{since:{TS}}})",
             f"({{until:{TS}}} IS NULL OR {time_column} < {{until:{TS}}})"]
    params: dict[str, Any] = {**scope.params(), "since": since, "until": until, "tz": timezone,
                              "working_day": working_day_seconds}
    for i, (name, values) in enumerate(sorted(spec.filters.items())):
        where.append(f"{FILTERS[spec.source][name]} IN {{f{i}:Array(String)}}")
        params[f"f{i}"] = values
    order = spec.order_by or ("period" if spec.grain else spec.measures[0])
    direction = "ASC" if order == "period" or order in spec.dimensions else "DESC"
    sql = (f"SELECT {', '.join(select)} FROM {db}.{table} FINAL WHERE {' AND '.join(where)}"
           + (f" GROUP BY {', '.join(group)}" if group else "")
           + f" ORDER BY {order} {direction} LIMIT {spec.limit}")
    return sql, params


def run_report(clickhouse: Any, spec: ReportSpec, scope: Scope, **window: Any) -> dict[str, Any]:
    """The report's rows (and its columns, in order), ready for a chart."""
    sql, params = compile_report(spec, scope, clickhouse.db, **window)
    columns = [*(["period"] if spec.grain else []), *spec.dimensions, *spec.measures]
    rows = [dict(zip(columns, row, strict=True)) for row in clickhouse.query(sql, params)]
    return {"columns": columns, "rows": rows, "chart": spec.chart}
