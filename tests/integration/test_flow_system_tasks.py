"""System work (issue 16): a system node whose hook is registered hands its work to the hook and
waits; the scheduler runs the hook outside the command; its answer moves the token on, with the
result in ``outputs.<node>`` for gateways; a hook that waits for the outside is completed later,
once; a failing hook is retried; a flow that moved on ignores a late answer."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from application.flows.system_hooks import HookOutcome, HookRequest
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import InvalidInputError
from tests.integration.flow_firm import TENANT, as_, open_task, publish_flow


class StampHook:
    """Writes one JSON file per request (named by the request id, so a rerun rewrites the same file)
    and answers with what the form says; ``wait`` makes it wait for the outside instead."""
    name = "stamp"

    def __init__(self, directory: Path, wait: bool = False, failures: int = 0):
        self.directory, self.wait, self.failures, self.runs = directory, wait, failures, 0

    @staticmethod
    def check(params: dict) -> list[str]:
        return [] if isinstance(params.get("seal"), str) else ["seal: which seal to stamp with"]

    def run(self, request: HookRequest) -> HookOutcome:
        self.runs += 1
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the counter is not answering")
        path = self.directory / f"{request.request_id.replace(':', '_')}.json"
        path.write_text(json.dumps({"tenant": request.form["basic"]["tenant_name_cn"], **request.params}))
        result = {"file": path.name, "flagged": request.form["commercial"]["term_months"] > 6}
        return HookOutcome("waiting" if self.wait else "done", result)


def graph(hook: str = "stamp"):
    return {"nodes": [{"id": "start", "type": "start", "name": "发起"},
                      {"id": "stamp", "type": "system", "name": "盖章", "hook": hook, "hook_params": {"seal": "A"}},
                      {"id": "flagged", "type": "exclusive", "name": "需复核?"},
                      {"id": "review", "type": "approval", "name": "运营复核", "mode": "single",
                       "assignees": [{"kind": "role", "value": "ops"}]},
                      {"id": "end", "type": "end", "name": "完成"}],
            "edges": [{"source": "start", "target": "stamp"}, {"source": "stamp", "target": "flagged"},
                      {"source": "flagged", "target": "review", "condition": "outputs.stamp.flagged == true"},
                      {"source": "flagged", "target": "end", "default": True},
                      {"source": "review", "target": "end"}]}


@pytest.fixture
def stamped(firm, tmp_path):
    container, _ = firm
    hook = StampHook(tmp_path)
    container.flows.register_hook(hook)
    publish_flow(container.flows, "stamped", graph())
    return container, hook


def start(flows, key="stamped", term=12):
    data = {**TENANT, "commercial": {**TENANT["commercial"], "term_months": term}}
    return flows.start_instance(as_("sam"), key, "institution", data, title="盖章").id


def events(flows, instance_id, name):
    return [e for e in flows.events.get(instance_id) if type(e).__name__ == name]


def test_the_token_waits_at_a_hooked_system_node_until_the_scheduler_has_run_the_hook(stamped, tmp_path):
    container, hook = stamped
    flows = container.flows
    iid = start(flows)
    instance = flows.instance(iid)
    assert instance.tokens == {"t1": "stamp"} and hook.runs == 0
    (requested,) = events(flows, iid, "SystemTaskRequested")
    assert (requested.node, requested.hook, requested.request_id.partition(":")[0]) == ("stamp", "stamp", str(iid))
    name = requested.request_id.replace(":", "_") + ".json"

    assert container.scheduler.tick() == 1
    instance = flows.instance(iid)
    assert open_task(instance)["node"] == "review"  # the gateway read outputs.stamp.flagged
    assert instance.outputs == {"stamp": {"status": "done", "file": name, "flagged": True}}
    assert json.loads((tmp_path / name).read_text()) == {"tenant": "甲公司", "seal": "A"}
    (done,) = events(flows, iid, "SystemTaskCompleted")
    assert done.actor == "system:hooks"
    assert container.scheduler.tick() == 0 and hook.runs == 1  # answered: nothing left to run


def test_the_hooks_answer_routes_the_flow(stamped):
    container, _ = stamped
    iid = start(container.flows, term=3)
    container.scheduler.tick()
    assert container.flows.instance(iid).status == "completed"


def test_a_hook_that_waits_for_the_outside_is_completed_once(firm, tmp_path):
    container, _ = firm
    flows = container.flows
    hook = StampHook(tmp_path, wait=True)
    flows.register_hook(hook)
    publish_flow(flows, "stamped", graph())
    iid = start(flows)
    assert container.scheduler.tick() == 1
    instance = flows.instance(iid)
    (request_id,) = instance.system_requests
    assert instance.tokens == {"t1": "stamp"} and instance.system_requests[request_id]["status"] == "waiting"
    assert container.scheduler.tick() == 0 and hook.runs == 1  # waiting is not re-run

    ctx = as_("counter")
    assert flows.complete_system_task(ctx, iid, request_id, "done", {"flagged": False}) == "completed"
    assert flows.instance(iid).status == "completed"
    assert flows.complete_system_task(ctx, iid, request_id, "failed", {}) == "gone"
    container.runners["flows.instances"].catch_up()
    (row,) = container.instance_queries.system_tasks(iid)
    assert (row["status"], row["result"], row["hook"]) == ("done", {"flagged": False}, "stamp")


def test_a_failing_hook_is_retried_and_its_request_stays_open(firm, tmp_path):
    container, clock = firm
    flows = container.flows
    hook = StampHook(tmp_path, failures=1)
    flows.register_hook(hook)
    publish_flow(flows, "stamped", graph())
    iid = start(flows)
    assert container.scheduler.tick() == 0 and container.scheduler.failures == 1
    clock.now += timedelta(seconds=5)
    container.scheduler._retry_at.clear()  # the retry's delay, elapsed
    assert container.scheduler.tick() == 1 and hook.runs == 2
    assert open_task(flows.instance(iid))["node"] == "review"


def test_an_answer_after_the_flow_moved_on_is_ignored(firm, tmp_path):
    container, _ = firm
    flows = container.flows
    flows.register_hook(StampHook(tmp_path, wait=True))
    publish_flow(flows, "stamped", graph())
    iid = start(flows)
    container.scheduler.tick()
    (request_id,) = flows.instance(iid).system_requests
    flows.withdraw(as_("sam"), iid, "不办了")
    assert flows.complete_system_task(as_("counter"), iid, request_id, "done", {}) == "gone"
    assert flows.instance(iid).status == "withdrawn"


def test_an_unregistered_hook_is_done_on_the_spot_as_before(firm):
    container, _ = firm
    publish_flow(container.flows, "exported", graph(hook="export"))
    iid = start(container.flows, key="exported", term=3)
    instance = container.flows.instance(iid)
    assert instance.status == "completed" and not events(container.flows, iid, "SystemTaskRequested")
    assert [e.hook for e in events(container.flows, iid, "SystemTaskDone")] == ["export"]


def test_hook_params_belong_to_system_nodes(firm):
    container, _ = firm
    bad = graph()
    bad["nodes"][3]["hook_params"] = {"seal": "B"}
    with pytest.raises(InvalidInputError) as refused:
        publish_flow(container.flows, "bad", bad)
    assert "hook_params belong to a system task" in str(refused.value.errors)


def test_a_hook_refuses_its_misconfigured_node_at_publish(stamped):
    container, _ = stamped
    bad = graph()
    bad["nodes"][1]["hook_params"] = {}
    with pytest.raises(InvalidInputError) as refused:
        publish_flow(container.flows, "unsealed", bad)
    assert refused.value.errors == [{"path": "nodes.stamp.hook_params", "message": "seal: which seal to stamp with"}]


def test_a_waiting_request_is_asked_again_so_an_answer_whose_callback_was_lost_still_arrives(firm, tmp_path,
                                                                                              monkeypatch):
    container, clock = firm
    monkeypatch.setattr(LedgerAggregate.Event, "create_timestamp", staticmethod(lambda: clock.now))
    flows = container.flows
    hook = StampHook(tmp_path, wait=True)
    flows.register_hook(hook)
    publish_flow(flows, "stamped", graph())
    iid = start(flows)
    assert container.scheduler.tick() == 1 and hook.runs == 1  # waiting for the outside
    hook.wait = False  # the outside has answered, but its callback never reached the flow
    container.runners["flows.instances"].catch_up()
    clock.now += timedelta(minutes=5)
    container.scheduler._reconciled_at = None
    assert container.scheduler.tick() == 0 and hook.runs == 1  # not yet asked again
    clock.now += timedelta(minutes=6)
    container.scheduler._reconciled_at = None
    assert container.scheduler.tick() == 1 and hook.runs == 2
    assert open_task(flows.instance(iid))["node"] == "review"
