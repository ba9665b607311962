"""Limits on what a flow definition may hold, pure domain: SLA durations and how deeply a
condition nests its comprehensions."""
from __future__ import annotations

import pytest

from application.flows.service import compile_condition
from domain.shared.errors import InvalidInputError
from tests.unit.flow_graphs import edge, graph, node

ITEMS = "[" + ",".join(["1"] * 60) + "]"


def test_sla_durations_are_bounded():
    with pytest.raises(InvalidInputError):
        graph([node("start", "start"), node("a", "approval", sla_seconds=10**12), node("end", "end")],
              [edge("start", "a"), edge("a", "end")])


def test_conditions_may_not_nest_comprehensions_deeply():
    assert compile_condition(f"{ITEMS}.all(a, {ITEMS}.exists(b, a == b))") is None
    assert "nested" in compile_condition(f"{ITEMS}.all(a, {ITEMS}.all(b, {ITEMS}.all(c, true)))")


def test_comprehensions_written_inside_a_string_do_not_count_as_nesting():
    assert compile_condition("name == 'x.all(a, b.all(c, d.all(e, true)))'") is None
