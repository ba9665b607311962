"""Who a task or a copy may go to, on real engines: active operators of the flow's business line,
and a task never to the initiator."""
from __future__ import annotations

import pytest

from domain.shared.errors import RuleViolationError
from tests.integration.flow_firm import ADMIN, START, as_, open_task


def test_tasks_and_copies_go_only_to_active_operators_of_the_line_and_never_to_the_initiator(firm):
    container, _ = firm
    flows = container.flows
    iid = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="h6").id
    task = open_task(flows.instance(iid))["id"]
    container.access.create_business_line(ADMIN, "futures", "Futures")
    hq = container.access.create_department(ADMIN, "FX", "FX", "head_office", None).id
    other = container.access.create_operator(ADMIN, "felix", "felix", hq, None, None, None).id
    container.access.set_business_lines(ADMIN, other, ["futures"])
    container.runners["access.principals"].catch_up()
    for who in ("operator:ghost", "operator:felix", "operator:sam"):
        for act, extra in ((flows.transfer, ("",)), (flows.delegate, ("",)), (flows.add_signer, ("before", ""))):
            with pytest.raises(RuleViolationError):
                act(as_("olga"), iid, task, who, *extra)
    with pytest.raises(RuleViolationError, match="not an active operator"):
        flows.cc(as_("olga"), iid, ["operator:ghost"], "")
    flows.cc(as_("olga"), iid, ["operator:sam", "operator:fiona"], "fyi")
    flows.transfer(as_("olga"), iid, task, "operator:fiona", "")
    assert "operator:fiona" in open_task(flows.instance(iid))["candidates"]
