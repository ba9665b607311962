"""Branch conditions on real engines: a condition that fails to evaluate does not hold, and the
failure is recorded with the branch taken."""
from __future__ import annotations

from tests.integration.flow_firm import TENANT, as_, open_task, publish_flow


def test_a_condition_that_divides_by_zero_does_not_hold_and_is_recorded(firm):
    container, _ = firm
    flows = container.flows
    g = {"nodes": [{"id": "start", "type": "start", "name": "s"}, {"id": "gw", "type": "exclusive", "name": "g"},
                   {"id": "rev", "type": "approval", "name": "r", "mode": "single",
                    "assignees": [{"kind": "role", "value": "ops"}]},
                   {"id": "end", "type": "end", "name": "e"}],
         "edges": [{"source": "start", "target": "gw"},
                   {"source": "gw", "target": "end", "condition": "1 / (commercial.term_months - 12) > 0"},
                   {"source": "gw", "target": "rev", "default": True}, {"source": "rev", "target": "end"}]}
    publish_flow(flows, "zdiv", g)
    started = flows.start_instance(as_("sam"), "zdiv", "institution", TENANT, title="z")  # term_months == 12
    assert open_task(flows.instance(started.id))["node"] == "rev"
    branch = next(e for e in container.audit.trail(started.id) if e.event_type.endswith("BranchTaken"))
    assert "ZeroDivisionError" in str(branch.data)
