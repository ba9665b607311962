"""What a saved report is (报表引擎, seed 001 §四): a specification naming a source of flow facts,
dimensions, measures, filters, a time grain and a chart kind — only names from the lists below.
What each name means in SQL is the analytics store's business (projections/analytics/report_engine.py,
which checks it knows exactly these names); what a user types never becomes SQL."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Source = Literal["instances", "visits", "decisions"]
Name = str
_COMMON = frozenset({"business_type", "definition_key", "business_line", "department"})
DIMENSION_NAMES: dict[str, frozenset[str]] = {
    "instances": _COMMON | {"outcome", "initiator"},
    "visits": _COMMON | {"node", "outcome", "reason_code", "handler"},
    "decisions": _COMMON | {"node", "decision", "handler", "reason_code"},
}
MEASURE_NAMES: dict[str, frozenset[str]] = {
    "instances": frozenset({"count", "completed", "rejected", "running", "first_pass_rate", "sla_met_rate",
                            "avg_working_days", "p50_working_hours", "p90_working_hours", "returns"}),
    "visits": frozenset({"count", "avg_working_hours", "p50_working_hours", "p90_working_hours", "sla_attainment",
                         "breached", "returned"}),
    "decisions": frozenset({"count", "approvals", "rejections", "returns", "avg_handling_working_hours",
                            "avg_handling_hours"}),
}
FILTER_NAMES: dict[str, frozenset[str]] = {
    "instances": frozenset({"business_type", "definition_key", "outcome"}),
    "visits": frozenset({"business_type", "definition_key", "node", "outcome", "reason_code"}),
    "decisions": frozenset({"business_type", "definition_key", "node", "decision", "handler", "reason_code"}),
}


class ReportSpec(BaseModel):
    """A saved report's definition: what a drag-and-drop board stores."""
    model_config = ConfigDict(extra="forbid")
    source: Source
    dimensions: list[Name] = Field(default_factory=list, max_length=3)
    measures: list[Name] = Field(min_length=1, max_length=8)
    filters: dict[Name, list[str]] = Field(default_factory=dict,
                                           description="filter name -> values (any of them)")
    grain: Literal["day", "week", "month"] | None = None
    chart: Literal["table", "bar", "line", "pie", "kpi"] = "table"
    order_by: Name | None = Field(None, description="a measure or dimension (default: the period, then the "
                                                    "first measure, descending)")
    limit: int = Field(100, ge=1, le=1000)

    @model_validator(mode="after")
    def _known(self) -> ReportSpec:
        """Every name is one of the source's allow-listed names (the message lists them)."""
        problems = []
        for kind, names, known in (("dimension", self.dimensions, DIMENSION_NAMES[self.source]),
                                   ("measure", self.measures, MEASURE_NAMES[self.source]),
                                   ("filter", list(self.filters), FILTER_NAMES[self.source])):
            problems += [f"{kind} {n!r} is not one of {', '.join(sorted(known))}" for n in names if n not in known]
        if len(set(self.dimensions)) != len(self.dimensions) or len(set(self.measures)) != len(self.measures):
            problems.append("a dimension or measure is named twice")
        if self.order_by is not None and self.order_by not in {*self.dimensions, *self.measures, "period"}:
            problems.append(f"order_by {self.order_by!r} is neither a chosen dimension nor a chosen measure")
        if any(len(v) > 100 or any(len(x) > 128 for x in v) for v in self.filters.values()):
            problems.append("at most 100 filter values of at most 128 characters")
        if problems:
            raise ValueError("; ".join(problems))
        return self
