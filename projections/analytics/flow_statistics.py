"""ClickHouse: flow statistics over the flow facts (issue 15, item 2; 004 §7 流程统计与 KPI).

Every figure is computed at query time from the fact tables read with FINAL (ADR 0003: no
materialized aggregates over sink tables), within the caller's scope (projections/analytics/scope.py).

Time filters apply where a figure belongs: instance figures by ``started_at``, node visits by
``entered_at``, decisions by ``occurred_at``; ``grain`` buckets by the same instant in the
reporting time zone. Percentiles are exact (``quantileExact``: the value at rank ⌊q·n⌋ of the
sorted values, counted from 0), so a recompute from the facts gives the same numbers.

A *closed* visit is one that was decided (left_at set, outcome not ``cancelled``): a task cancelled
by a withdrawal or a jump was never handled, so it says nothing about how long handling takes."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from projections.analytics.scope import CONDITION as SCOPE
from projections.analytics.scope import Scope

Grain = Literal["day", "week", "month"]
# (definition_key, version) -> {code: counted}: the reason codes of published flow versions.
ReasonCodes = Callable[[list[str]], dict[tuple[str, int], dict[str, bool]]]
TS = "Nullable(DateTime64(6, 'UTC'))"
BUCKETS = {"day": "toStartOfDay", "week": "toMonday", "month": "toStartOfMonth"}
CLOSED = "left_at IS NOT NULL AND outcome != 'cancelled'"
WORKING_DAY_SECONDS = 27_000.0  # 7.5 h, the default working day (setting flows_working_day_hours)
Columns = Sequence[tuple[str, str]]  # (name, SQL expression): constants of this module, never user input


@dataclass(frozen=True)
class StatsFilter:
    """Whose facts and which: ``business_lines`` are the caller's (required), ``departments`` the
    caller's data scope (None: all); the rest narrow further."""
    business_lines: Sequence[str]
    departments: Sequence[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    business_type: str | None = None
    definition_key: str | None = None
    department: str | None = None

    @property
    def scope(self) -> Scope:
        return Scope(self.business_lines, self.departments)

    def __post_init__(self) -> None:
        Scope(self.business_lines, self.departments)  # refuses an empty list of lines

    def params(self) -> dict[str, Any]:
        return {**self.scope.params(), "since": self.since, "until": self.until,
                "business_type": self.business_type, "definition_key": self.definition_key,
                "department": self.department}


def _where(at: str) -> str:
    return (
        f"{SCOPE}"
        f" AND ({{since:{TS}}} IS NULL OR {at} >= {{since:{TS}}})"
        f" AND ({{until:{TS}}} IS NULL OR {at} < {{until:{TS}}})"
        " AND ({business_type:Nullable(String)} IS NULL OR business_type = {business_type:Nullable(String)})"
        " AND ({definition_key:Nullable(String)} IS NULL OR definition_key = {definition_key:Nullable(String)})"
        " AND ({department:Nullable(String)} IS NULL"
        " OR ifNull(toString(department_id), '') = {department:Nullable(String)})")


def _quantiles(column: str, *levels: int) -> list[tuple[str, str]]:
    # One quantilesExact for all levels: ClickHouse computes an identical aggregate once, so the
    # values are sorted once, not once per level.
    fused = f"quantilesExact({', '.join(str(q / 100) for q in levels)})({column})"
    return [(f"p{q}_{column}", f"{fused}[{i}]") for i, q in enumerate(levels, start=1)]


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _passed(row: dict[str, Any]) -> dict[str, Any]:
    return {("first_pass" if k == "passed" else k): v for k, v in row.items()}


DURATIONS = [("avg_working_seconds", "avg(working_seconds)"), *_quantiles("working_seconds", 50, 90)]
VOLUME = [("started", "count()"), ("completed", "countIf(outcome = 'completed')"),
          ("rejected", "countIf(outcome = 'rejected')"), ("withdrawn", "countIf(outcome = 'withdrawn')"),
          ("terminated", "countIf(outcome = 'terminated')"), ("running", "countIf(outcome = 'running')")]
SLOW = [("ended", "count()"), *DURATIONS, ("avg_wall_seconds", "avg(wall_seconds)"),
        *_quantiles("wall_seconds", 50, 90)]
SLA = [("with_sla", "count()"), ("met", "countIf(sla_breached = 0)"), ("breached", "countIf(sla_breached = 1)"),
       ("rate", "round(met / with_sla, 4)")]
FIRST_PASS = [("completed", "countIf(outcome = 'completed')"),
              ("passed", "countIf(outcome = 'completed' AND first_pass = 1)"),  # not aliased first_pass: the column
              ("rate", "round(passed / completed, 4)")]
TURNED_DOWN = [("rejections", "countIf(decision = 'rejected')"), ("returns", "countIf(decision = 'returned')")]
HANDLING = [("decisions", "count()"), ("approved", "countIf(decision = 'approved')"),
            ("rejected", "countIf(decision = 'rejected')"), ("returned", "countIf(decision = 'returned')"),
            ("avg_handling_working_seconds", "avg(handling_working_seconds)"),
            ("avg_handling_seconds", "avg(handling_seconds)")]
STAGES = [("visits", "count()"), ("avg_working_seconds", "avg(working_seconds)"),
          *_quantiles("working_seconds", 50), ("avg_wall_seconds", "avg(wall_seconds)")]
NODE = [("definition_key", "definition_key"), ("node", "node")]
DEPARTMENT = [("department_id", "department_id")]


class FlowStatistics:
    """Queries over flow_instance_facts, flow_visit_facts and flow_decision_facts."""

    def __init__(self, clickhouse: Any, timezone: str = "Asia/Shanghai", reason_codes: ReasonCodes | None = None,
                 working_day_seconds: float = WORKING_DAY_SECONDS, cycle_target_days: float = 5.0,
                 first_pass_target: float = 0.8):
        self.ch = clickhouse
        self.tz = timezone
        self.reason_codes = reason_codes or (lambda keys: {})
        self.working_day_seconds = working_day_seconds
        self.cycle_target_days, self.first_pass_target = cycle_target_days, first_pass_target

    # -- the one query shape -----------------------------------------------------------------------------
    def _source(self, facts: str) -> tuple[str, str]:
        db = self.ch.db
        if facts == "instances":
            return f"{db}.flow_instance_facts FINAL", "started_at"
        if facts == "visits":
            return f"{db}.flow_visit_facts FINAL", "entered_at"
        return f"{db}.flow_decision_facts FINAL", "occurred_at"

    def _rows(self, facts: str, f: StatsFilter, grain: Grain | None, dims: Columns, metrics: Columns, *,
              where: str = "", order: Sequence[str] = (), array_join: str = "") -> list[dict[str, Any]]:
        source, at = self._source(facts)
        columns = list(dims)
        if grain is not None:
            columns.insert(0, ("period", f"toDate({BUCKETS[grain]}(toTimeZone({at}, {{tz:String}})))"))
        names = [n for n, _ in (*columns, *metrics)]
        group = [n for n, _ in columns]
        sql = ("SELECT " + ", ".join(f"{expr} AS {name}" for name, expr in (*columns, *metrics))
               + f" FROM {source}" + (f" ARRAY JOIN {array_join}" if array_join else "")
               + f" WHERE {_where(at)}" + (f" AND {where}" if where else "")
               + (" GROUP BY " + ", ".join(group) if group else "")
               + (" ORDER BY " + ", ".join([*(["period"] if grain else []), *order, *group]) if group else ""))
        rows = self.ch.query(sql, {**f.params(), "tz": self.tz})
        return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in rows]

    def _total(self, facts: str, f: StatsFilter, metrics: Columns, where: str = "") -> dict[str, Any]:
        return self._rows(facts, f, None, (), metrics, where=where)[0]

    # -- figures -----------------------------------------------------------------------------------------
    def volume(self, f: StatsFilter, grain: Grain | None = None) -> dict[str, Any]:
        """Instances started per business type (hot businesses first) and how they stand now."""
        rows = self._rows("instances", f, grain, [("business_type", "business_type")], VOLUME,
                          order=["started DESC"])
        return {"rows": rows, "total": self._total("instances", f, VOLUME)}

    def slow(self, f: StatsFilter, grain: Grain | None = None) -> dict[str, Any]:
        """Ended instances per business type, slowest (average working time) first."""
        ended = "outcome != 'running'"
        rows = self._rows("instances", f, grain, [("business_type", "business_type")], SLOW, where=ended,
                          order=["avg_working_seconds DESC"])
        return {"rows": rows, "total": self._total("instances", f, SLOW, ended)}

    def slow_nodes(self, f: StatsFilter, grain: Grain | None = None) -> dict[str, Any]:
        """Closed visits per node, slowest (median working time) first."""
        rows = self._rows("visits", f, grain, NODE, [("visits", "count()"), *DURATIONS], where=CLOSED,
                          order=["p50_working_seconds DESC"])
        return {"rows": rows}

    def timeliness(self, f: StatsFilter, grain: Grain | None = None) -> dict[str, Any]:
        """SLA attainment (时效达成率) of closed visits that had an SLA: per node, department, handler."""
        where = f"{CLOSED} AND sla_due_at IS NOT NULL"
        return {"by_node": self._rows("visits", f, grain, NODE, SLA, where=where),
                "by_department": self._rows("visits", f, grain, DEPARTMENT, SLA, where=where),
                "by_handler": self._rows("visits", f, grain, [("handler", "decider")], SLA, where=where,
                                         array_join="decided_by AS decider"),
                "total": self._total("visits", f, SLA, where)}

    def first_pass(self, f: StatsFilter, grain: Grain | None = None) -> dict[str, Any]:
        """一次通过率: completed instances that never went back (returned), per business type."""
        rows = self._rows("instances", f, grain, [("business_type", "business_type")], FIRST_PASS)
        return {"rows": [_passed(r) for r in rows], "total": _passed(self._total("instances", f, FIRST_PASS))}

    def rejections(self, f: StatsFilter, grain: Grain | None = None) -> dict[str, Any]:
        """Rejections and returns per node, handler and reason code, each marked ``counted`` by the
        reason codes of the flow version the instance ran when it was decided (None: a code that
        version does not define, or none given)."""
        turned = "decision IN ('rejected', 'returned')"
        version = [("definition_key", "definition_key"), ("definition_version", "definition_version")]
        rows = self._rows("decisions", f, grain, [*version, ("node", "node"), ("handler", "handler"),
                                                   ("reason_code", "reason_code")], TURNED_DOWN, where=turned)
        by_reason = self._rows("decisions", f, grain, [*version, ("reason_code", "reason_code")], TURNED_DOWN,
                               where=turned, order=["rejections + returns DESC"])
        self._mark_counted([*rows, *by_reason])
        return {"rows": rows, "by_reason": by_reason, "total": self._total("decisions", f, TURNED_DOWN, turned)}

    def _mark_counted(self, rows: list[dict[str, Any]]) -> None:
        codes = self.reason_codes(sorted({r["definition_key"] for r in rows})) if rows else {}
        for r in rows:
            r["counted"] = codes.get((r["definition_key"], r["definition_version"]), {}).get(r["reason_code"])

    def handlers(self, f: StatsFilter, grain: Grain | None = None) -> dict[str, Any]:
        """People ranked by decisions taken (system actors left out: timeouts and auto-approvals)."""
        rows = self._rows("decisions", f, grain, [("handler", "handler")], HANDLING,
                          where="NOT startsWith(handler, 'system:')", order=["decisions DESC"])
        return {"rows": rows}

    def stages(self, f: StatsFilter, grain: Grain | None = None) -> dict[str, Any]:
        """Stage time per department (环节用时): closed visits by the department they belonged to."""
        rows = self._rows("visits", f, grain, DEPARTMENT, STAGES, where=CLOSED, order=["avg_working_seconds DESC"])
        return {"rows": rows, "total": self._total("visits", f, STAGES, CLOSED)}

    def kpi(self, business_type: str, f: StatsFilter) -> dict[str, Any]:
        """The 004 KPI set of one business type: average cycle in working days against its target,
        stage time per department, the first-pass rate against its target, rejection reasons."""
        cycle_target_days, first_pass_target = self.cycle_target_days, self.first_pass_target
        f = replace(f, business_type=business_type)
        day = self.working_day_seconds
        cycle = self._total("instances", f, [("completed", "count()"), ("avg_working_seconds", "avg(working_seconds)")],
                            "outcome = 'completed'")
        avg_days = None if cycle["avg_working_seconds"] is None else round(cycle["avg_working_seconds"] / day, 4)
        passed = _passed(self._total("instances", f, FIRST_PASS))
        stages = [{**r, "avg_working_days": None if r["avg_working_seconds"] is None
                   else round(r["avg_working_seconds"] / day, 4)} for r in self.stages(f)["rows"]]
        reasons = self.rejections(f)["by_reason"]
        return {
            "business_type": business_type, "working_day_seconds": day,
            "cycle": {"completed": cycle["completed"], "avg_working_days": avg_days, "target_days": cycle_target_days,
                      "met": None if avg_days is None else avg_days <= cycle_target_days},
            "first_pass": {**passed, "target": first_pass_target,
                           "met": None if passed["rate"] is None else passed["rate"] >= first_pass_target},
            "stages": stages, "rejection_reasons": reasons,
        }
