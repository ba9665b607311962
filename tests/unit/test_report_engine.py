"""Report specifications name only allow-listed dimensions, measures and filters; what a user
types travels as a query parameter, and the caller's scope is in every query."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from projections.analytics.report_engine import ReportSpec, Scope, compile_report


def test_names_outside_the_allow_lists_are_refused_with_the_names_that_are_allowed():
    with pytest.raises(ValidationError, match="measure 'sum\\(wall_seconds\\)' is not one of"):
        ReportSpec(source="instances", measures=["sum(wall_seconds)"])
    with pytest.raises(ValidationError, match="dimension 'node' is not one of"):
        ReportSpec(source="instances", dimensions=["node"], measures=["count"])
    with pytest.raises(ValidationError, match="order_by"):
        ReportSpec(source="visits", measures=["count"], order_by="1; DROP TABLE x")


def test_filter_values_are_parameters_and_the_scope_is_always_applied():
    spec = ReportSpec(source="decisions", dimensions=["handler"], measures=["count"],
                      filters={"reason_code": ["x') OR 1=1 --"]})
    sql, params = compile_report(spec, Scope(["brokerage"], ["d1"]), "`ledgerflow`")
    assert "OR 1=1" not in sql and params["f0"] == ["x') OR 1=1 --"]
    assert "has({lines:Array(String)}, business_line)" in sql and params["lines"] == ["brokerage"]
    assert params["all_departments"] is False and params["departments"] == ["d1"]
    with pytest.raises(ValueError, match="business lines"):
        Scope([], None)
