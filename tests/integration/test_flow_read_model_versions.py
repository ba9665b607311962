"""The instance row's version is the aggregate's once the read model has caught up, whatever the
last event was (a branch, a fork, a join, a remark, an urge, a copy, a read mark): a read can trust
the row exactly when its version equals the event store's."""
from __future__ import annotations

from tests.integration.flow_firm import as_
from tests.integration.test_flow_instances import _special_fee_rate


def _row_version(container, instance_id):
    container.runners["flows.instances"].catch_up()
    return container.instance_queries.instance(instance_id)["version"]


def test_every_kind_of_instance_event_advances_the_rows_version(firm):
    container, _ = firm
    flows = container.flows
    instance_id = _special_fee_rate(flows)  # a branch taken, then a fork into two reviews
    assert _row_version(container, instance_id) == flows.instance(instance_id).version
    flows.remark(as_("sam"), instance_id, "客户催办")
    assert _row_version(container, instance_id) == flows.instance(instance_id).version
    task = next(t for t in flows.instance(instance_id).tasks.values() if t["status"] == "open")
    flows.urge(as_("sam"), instance_id, task["id"])
    assert _row_version(container, instance_id) == flows.instance(instance_id).version
    flows.cc(as_("sam"), instance_id, ["operator:fiona"], "请知悉")
    flows.mark_cc_read(as_("fiona"), instance_id)
    assert _row_version(container, instance_id) == flows.instance(instance_id).version
    for login in ("olga", "clara", "carl"):  # the parallel reviews, then the join
        inst = flows.instance(instance_id)
        mine = next(t for t in inst.tasks.values() if t["status"] == "open" and f"operator:{login}" in
                    inst.current_handlers(t))
        flows.approve(as_(login), instance_id, mine["id"], "ok")
    assert flows.instance(instance_id).status == "completed"
    assert _row_version(container, instance_id) == flows.instance(instance_id).version
