"""Chained flows (a completed flow starts its follow-up) on real engines: a chain may not loop
nor leave the business line, and flows that complete at once chain at most five deep in one step."""
from __future__ import annotations

import pytest

from domain.shared.errors import RuleViolationError
from tests.integration.flow_firm import ADMIN, AUTO, BLOCK, TENANT, as_, publish_flow


def test_a_chain_that_loops_back_is_refused_at_publish(firm):
    container, _ = firm
    flows = container.flows
    publish_flow(flows, "loop_a", AUTO)
    publish_flow(flows, "loop_b", AUTO, chain_to="loop_a")
    flows.save_draft(ADMIN, "loop_a", AUTO, {**BLOCK, "chain_to": "loop_b"}, None)
    with pytest.raises(RuleViolationError, match="loop_a -> loop_b -> loop_a"):
        flows.publish(ADMIN, "loop_a", None)


def test_a_chain_to_an_unknown_flow_or_to_a_flow_of_another_business_line_is_refused(firm):
    container, _ = firm
    flows = container.flows
    publish_flow(flows, "loop_a", AUTO)
    with pytest.raises(RuleViolationError, match="does not exist"):
        flows.save_draft(ADMIN, "loop_a", AUTO, {**BLOCK, "chain_to": "ghost_flow"}, None)
    container.access.create_business_line(ADMIN, "futures", "Futures")
    container.forms.create_business_type(ADMIN, "fx_signing", "fx", "futures", "", ["institution"])
    flows.create_definition(ADMIN, "fx_flow", "fx", "fx_signing", "futures", "")
    with pytest.raises(RuleViolationError, match="does not exist"):
        flows.save_draft(ADMIN, "loop_a", AUTO, {**BLOCK, "chain_to": "fx_flow"}, None)


def test_flows_that_complete_at_once_chain_at_most_five_deep_in_one_step(firm):
    container, _ = firm
    flows = container.flows
    for i in range(7, 0, -1):
        publish_flow(flows, f"hop{i}", AUTO, **({"chain_to": f"hop{i + 1}"} if i < 7 else {}))
    first = flows.instance(flows.start_instance(as_("sam"), "hop1", "institution", TENANT, title="hop").id)
    assert flows.hot._items[first.id].chain is not None  # M8: cached only once chaining is saved
    problems, current = [], first
    while current.chain:
        problems.append(current.chain["problem"])
        if not current.chain["next_instance"]:
            break
        current = flows.instance(current.chain["next_instance"])
    assert problems[:5] == [None] * 5 and "more than 5 flows chained" in problems[5]
