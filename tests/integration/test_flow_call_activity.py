"""父子流程 (call activities) through the application layer on real engines: a parent waits at a call
node for a child instance of another flow and goes on with its outcome; ending or leaving the
parent cancels the child; publishing refuses call targets that are missing, of another line or
loop back; a lost notification is re-driven by the scheduler; replay never calls twice."""
from __future__ import annotations

import pytest

from domain.shared.context import CommandContext
from domain.shared.errors import InvalidInputError, RuleViolationError
from tests.integration.flow_firm import ADMIN, as_, open_task
from tests.integration.test_flow_instances import OPENING

CHILD = {"nodes": [{"id": "start", "type": "start", "name": "发起"},
                   {"id": "kyc_check", "type": "approval", "name": "反洗钱核查", "mode": "single",
                    "assignees": [{"kind": "role", "value": "clearing"}]},
                   {"id": "end", "type": "end", "name": "完成"}],
         "edges": [{"source": "start", "target": "kyc_check"}, {"source": "kyc_check", "target": "end"}]}
INSTANT = {"nodes": [{"id": "start", "type": "start", "name": "发起"}, {"id": "end", "type": "end", "name": "完成"}],
           "edges": [{"source": "start", "target": "end"}]}


def parent_graph(call_flow: str = "kyc", **call: object) -> dict:
    return {"nodes": [{"id": "start", "type": "start", "name": "发起"},
                      {"id": "kyc", "type": "call", "name": "子流程: 反洗钱", "call_flow": call_flow, **call},
                      {"id": "review", "type": "approval", "name": "运营审核", "mode": "single",
                       "assignees": [{"kind": "role", "value": "ops"}]},
                      {"id": "end", "type": "end", "name": "完成"}],
            "edges": [{"source": "start", "target": "kyc"}, {"source": "kyc", "target": "review"},
                      {"source": "review", "target": "end"}]}


BRANCHING = {"nodes": [*parent_graph(on_child_failure="continue")["nodes"],
                       {"id": "checked", "type": "exclusive", "name": "核查通过?"},
                       {"id": "rework", "type": "approval", "name": "补充材料", "mode": "single",
                        "assignees": [{"kind": "role", "value": "sales"}]}],
             "edges": [{"source": "start", "target": "kyc"}, {"source": "kyc", "target": "checked"},
                       {"source": "checked", "target": "review", "condition": 'calls.kyc.outcome == "completed"'},
                       {"source": "checked", "target": "rework", "default": True},
                       {"source": "rework", "target": "end"}, {"source": "review", "target": "end"}]}


def publish(flows, key, graph, line="brokerage"):
    flows.create_definition(ADMIN, key, key, "account_opening", line, "")
    flows.save_draft(ADMIN, key, graph, {"deduplication": "none", "empty_assignee": "block"}, None)
    flows.publish(ADMIN, key, None)


@pytest.fixture
def calls(firm):
    container, _ = firm
    publish(container.flows, "kyc", CHILD)
    publish(container.flows, "opening_kyc", parent_graph())
    return container


def start(flows, key="opening_kyc"):
    return flows.start_instance(as_("sam"), key, "individual", OPENING, title="开户+反洗钱",
                                fund_account="8800123456").id


def events(flows, instance_id, name):
    return [e for e in flows.events.get(instance_id) if type(e).__name__ == name]


def child_of(flows, parent_id):
    (call,) = [c for c in flows.instance(parent_id).calls if c["status"] == "running"]
    return flows.instance(call["child_instance"])


def timeline(container, instance_id, kind):
    container.runners["flows.instances"].catch_up()
    return [e for e in container.instance_queries.timeline(instance_id) if e["kind"] == kind]


def test_the_parent_waits_at_the_call_node_while_its_child_runs(calls):
    flows = calls.flows
    parent_id = start(flows)
    parent = flows.instance(parent_id)
    assert list(parent.tokens.values()) == ["kyc"] and not [t for t in parent.tasks.values()]
    child = child_of(flows, parent_id)
    assert (child.definition_key, child.initiator, child.subject, child.fund_account, child.department_id) == (
        "kyc", "operator:sam", "individual", "8800123456", parent.department_id)
    assert (child.parent_instance, child.parent_token, child.data) == (parent_id, "t1", parent.data)
    assert open_task(child)["node"] == "kyc_check"
    (started,) = events(flows, parent_id, "ChildStarted")
    assert (started.node, started.child_flow, started.child_instance) == ("kyc", "kyc", child.id)
    assert calls.audit.trail(child.id)[0].actor == "system:flow-call"  # started for sam, by the system
    (line,) = timeline(calls, parent_id, "child_started")
    assert (line["node"], line["detail"]) == ("kyc", {"child_flow": "kyc", "child_instance": str(child.id)})
    links = calls.instance_queries.calls(parent_id)
    assert links["parent"] is None
    assert [(c["instance_id"], c["node"], c["state"], c["status"]) for c in links["children"]] == [
        (child.id, "kyc", "waiting", "running")]
    assert calls.instance_queries.calls(child.id)["parent"]["instance_id"] == parent_id
    assert calls.instance_queries.instance(parent_id)["current_nodes"] == ["kyc"]
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    board = calls.instance_queries.monitor.board(everyone, {"status": "running"})  # the parent counts at kyc
    assert [(r["definition_key"], r["node"], r["node_name"], r["count"]) for r in board["by_node"]] == [
        ("kyc", "kyc_check", "反洗钱核查", 1), ("opening_kyc", "kyc", "子流程: 反洗钱", 1)]


def test_a_completed_child_lets_the_parent_go_on_with_its_outcome(calls):
    flows = calls.flows
    parent_id = start(flows)
    child = child_of(flows, parent_id)
    flows.approve(as_("clara"), child.id, open_task(child)["id"], "核查通过")
    assert flows.instance(child.id).status == "completed"
    parent = flows.instance(parent_id)
    assert open_task(parent)["node"] == "review"
    (finished,) = events(flows, parent_id, "ChildFinished")
    assert (finished.node, finished.child_instance, finished.outcome) == ("kyc", child.id, "completed")
    assert finished.data == child.data and parent.call_results["kyc"]["outcome"] == "completed"
    (line,) = timeline(calls, parent_id, "child_finished")
    assert (line["node"], line["detail"]) == ("kyc", {"child_instance": str(child.id), "outcome": "completed"})
    assert calls.instance_queries.calls(parent_id)["children"][0]["state"] == "finished"


def test_a_child_that_completes_at_once_lets_the_parent_go_on_in_the_same_command(calls):
    flows = calls.flows
    publish(flows, "instant", INSTANT)
    publish(flows, "opening_instant", parent_graph("instant"))
    parent = flows.instance(start(flows, "opening_instant"))
    assert open_task(parent)["node"] == "review"
    assert [e.outcome for e in events(flows, parent.id, "ChildFinished")] == ["completed"]


def test_a_rejected_child_rejects_the_parent_by_default(calls):
    flows = calls.flows
    parent_id = start(flows)
    child = child_of(flows, parent_id)
    flows.reject(as_("clara"), child.id, open_task(child)["id"], "身份存疑")
    parent = flows.instance(parent_id)
    assert parent.status == "rejected"
    (finished,) = events(flows, parent_id, "Finished")
    assert finished.status == "rejected" and finished.reason == "the child flow kyc was rejected"
    assert [e.outcome for e in events(flows, parent_id, "ChildFinished")] == ["rejected"]


def test_a_withdrawn_child_rejects_the_parent_by_default(calls):
    flows = calls.flows
    parent_id = start(flows)
    flows.withdraw(as_("sam"), child_of(flows, parent_id).id, "不办了")
    assert flows.instance(parent_id).status == "rejected"


def test_with_continue_the_parent_branches_on_the_childs_outcome(calls):
    flows = calls.flows
    publish(flows, "opening_branching", BRANCHING)
    passed, failed = start(flows, "opening_branching"), start(flows, "opening_branching")
    child = child_of(flows, passed)
    flows.approve(as_("clara"), child.id, open_task(child)["id"], "ok")
    child = child_of(flows, failed)
    flows.reject(as_("clara"), child.id, open_task(child)["id"], "no")
    assert open_task(flows.instance(passed))["node"] == "review"
    failed_parent = flows.instance(failed)
    assert failed_parent.status == "running" and open_task(failed_parent)["node"] == "rework"
    (branch,) = events(flows, failed, "BranchTaken")
    assert branch.targets == ["rework"]


@pytest.mark.parametrize("action", ["terminate", "withdraw"])
def test_ending_the_parent_terminates_its_running_child(calls, action):
    flows = calls.flows
    parent_id = start(flows)
    child = child_of(flows, parent_id)
    if action == "terminate":
        flows.terminate(as_("ada"), parent_id, "客户撤销申请")
    else:
        flows.withdraw(as_("sam"), parent_id, "不办了")
    status = "terminated" if action == "terminate" else "withdrawn"
    (cancelled,) = events(flows, parent_id, "ChildCancelled")
    assert (cancelled.child_instance, cancelled.reason) == (child.id, f"the parent flow was {status}")
    assert flows.instance(child.id).status == "terminated"
    (ended,) = events(flows, child.id, "Finished")
    assert ended.reason == f"the parent flow was {status}" and ended.actor == "system:flow-call"
    (line,) = timeline(calls, parent_id, "child_cancelled")
    assert (line["node"], line["comment"]) == ("kyc", f"the parent flow was {status}")
    assert flows.instance(parent_id).status == status  # the child's end changes nothing more


def test_a_jump_off_the_call_node_cancels_the_child_and_a_jump_onto_it_calls_again(calls):
    flows = calls.flows
    parent_id = start(flows)
    first = child_of(flows, parent_id)
    flows.jump(as_("ada"), parent_id, "review", "线下已核查")
    assert flows.instance(first.id).status == "terminated"
    assert open_task(flows.instance(parent_id))["node"] == "review"
    flows.jump(as_("ada"), parent_id, "kyc", "重新核查")
    second = child_of(flows, parent_id)
    assert second.id != first.id and second.status == "running"
    assert [e.child_instance for e in events(flows, parent_id, "ChildStarted")] == [first.id, second.id]


def test_a_child_that_cannot_start_is_recorded_and_the_parent_waits_at_the_call_node(calls):
    flows = calls.flows
    blocked = {**CHILD, "nodes": [CHILD["nodes"][0], {**CHILD["nodes"][1], "assignees": [
        {"kind": "role", "value": "nobody_holds_this"}]}, CHILD["nodes"][2]]}
    publish(flows, "kyc_blocked", blocked)
    publish(flows, "opening_blocked", parent_graph("kyc_blocked"))
    parent_id = start(flows, "opening_blocked")
    parent = flows.instance(parent_id)
    assert parent.status == "running" and list(parent.tokens.values()) == ["kyc"]
    (refused,) = events(flows, parent_id, "ChildNotStarted")
    assert refused.child_flow == "kyc_blocked" and "nobody can take node" in refused.problem
    (line,) = timeline(calls, parent_id, "child_not_started")
    assert line["node"] == "kyc" and "nobody can take node" in line["comment"]
    (row,) = calls.instance_queries.calls(parent_id)["children"]
    assert (row["instance_id"], row["state"]) == (None, "not_started")
    flows.jump(as_("ada"), parent_id, "kyc", "再试一次")  # an administrator retries by jumping onto it
    assert len(events(flows, parent_id, "ChildNotStarted")) == 2
    flows.jump(as_("ada"), parent_id, "review", "线下核查")  # ...or moves the flow on
    assert open_task(flows.instance(parent_id))["node"] == "review"


def test_publishing_refuses_unknown_other_line_unpublished_and_looping_call_targets(calls):
    flows = calls.flows
    calls.access.create_business_line(ADMIN, "futures", "Futures")
    publish(flows, "futures_kyc", CHILD, line="futures")
    flows.create_definition(ADMIN, "draft_only", "draft_only", "account_opening", "brokerage", "")
    flows.create_definition(ADMIN, "caller", "caller", "account_opening", "brokerage", "")
    settings = {"deduplication": "none", "empty_assignee": "block"}

    def refused(graph, step):
        with pytest.raises(InvalidInputError) as err:
            if step == "save":
                flows.save_draft(ADMIN, "caller", graph, settings, None)
            else:
                flows.save_draft(ADMIN, "caller", graph, settings, None)
                flows.publish(ADMIN, "caller", None)
        assert err.value.code == "invalid_flow_graph"
        return [e["message"] for e in err.value.errors if e["path"] == "nodes.kyc"]

    assert refused(parent_graph("no_such_flow"), "save") == ["call_flow: flow 'no_such_flow' does not exist"]
    assert refused(parent_graph("futures_kyc"), "save") == ["call_flow: flow 'futures_kyc' does not exist"]
    assert refused(parent_graph("draft_only"), "publish") == [
        "call_flow: flow 'draft_only' has no published version yet"]
    assert refused(parent_graph("caller"), "publish") == ["calls form a loop: caller -> caller"]
    flows.save_draft(ADMIN, "caller", parent_graph("opening_kyc"), settings, None)
    flows.publish(ADMIN, "caller", None)  # caller -> opening_kyc -> kyc: no loop
    flows.save_draft(ADMIN, "kyc", parent_graph("caller"), settings, None)
    with pytest.raises(InvalidInputError) as err:
        flows.publish(ADMIN, "kyc", None)
    assert err.value.errors == [{"path": "nodes.kyc", "message": "calls form a loop: kyc -> caller -> opening_kyc -> kyc"}]
    no_target = parent_graph()
    no_target["nodes"][1] = {"id": "kyc", "type": "call", "name": "子流程"}
    no_target["nodes"][2]["on_child_failure"] = "continue"
    assert refused(no_target, "publish") == ["a call node names the flow it starts (call_flow)"]
    with pytest.raises(InvalidInputError) as err:
        flows.publish(ADMIN, "caller", None)
    assert {"path": "nodes.review", "message": "only call nodes take on_child_failure"} in err.value.errors


def test_a_lost_notification_is_recovered_by_the_scheduler(calls, monkeypatch):
    flows, scheduler = calls.flows, calls.scheduler
    parent_id = start(flows)
    child = child_of(flows, parent_id)
    with monkeypatch.context() as crash:  # the process dies right after saving the child
        crash.setattr(flows, "_drive", lambda *args: None)
        flows.approve(as_("clara"), child.id, open_task(child)["id"], "ok")
    assert flows.instance(child.id).status == "completed"
    assert list(flows.instance(parent_id).tokens.values()) == ["kyc"]  # still waiting
    calls.runners["flows.instances"].catch_up()
    assert scheduler.tick() == 1  # its first tick reads the leftovers from PostgreSQL
    assert open_task(flows.instance(parent_id))["node"] == "review"
    calls.runners["flows.instances"].catch_up()
    scheduler._reconciled_at = None
    assert scheduler.tick() == 0  # told once
    assert flows.fire_call(CommandContext.system("scheduler"), "call", parent_id, child.id) == "gone"
    assert len(events(flows, parent_id, "ChildFinished")) == 1


def test_a_lost_cancellation_is_recovered_by_the_scheduler(calls, monkeypatch):
    flows = calls.flows
    parent_id = start(flows)
    child = child_of(flows, parent_id)
    with monkeypatch.context() as crash:
        crash.setattr(flows, "_drive", lambda *args: None)
        flows.terminate(as_("ada"), parent_id, "撤销")
    assert flows.instance(child.id).status == "running"
    calls.runners["flows.instances"].catch_up()
    assert calls.scheduler.tick() == 1
    assert flows.instance(child.id).status == "terminated"


def test_a_failed_resumption_is_queued_and_retried(calls, monkeypatch):
    flows, scheduler = calls.flows, calls.scheduler
    parent_id = start(flows)
    child = child_of(flows, parent_id)
    scheduler.tick()  # reconciled now: what follows comes from Redis
    with monkeypatch.context() as conflict:
        def fail(*args):
            raise RuleViolationError("nobody can take node '运营审核'")
        conflict.setattr(flows, "_resume_parent", fail)
        flows.approve(as_("clara"), child.id, open_task(child)["id"], "ok")
    assert list(flows.instance(parent_id).tokens.values()) == ["kyc"]
    assert calls.redis.client.zscore(calls.redis.key("flows:due"), f"call|{parent_id}|{child.id}") is not None
    assert scheduler.tick() == 1
    assert open_task(flows.instance(parent_id))["node"] == "review"


def test_replaying_the_parent_never_starts_a_second_child(calls):
    flows = calls.flows
    parent_id = start(flows)
    flows.hot.clear()
    replayed = flows.instance(parent_id)
    assert replayed.calls_to_start(flows._graph(replayed)) == []
    flows.remark(as_("sam"), parent_id, "催一下")  # any later save of the parent
    flows.hot.clear()
    flows.remark(as_("sam"), parent_id, "再催")
    assert len(events(flows, parent_id, "ChildStarted")) == 1
    calls.runners["flows.instances"].catch_up()
    assert len(calls.instance_queries.calls(parent_id)["children"]) == 1


def test_calls_nesting_deeper_than_the_guard_are_refused_with_the_reason(calls):
    flows = calls.flows
    publish(flows, "level_0", INSTANT)
    for level in range(1, 8):
        publish(flows, f"level_{level}", parent_graph(f"level_{level - 1}"))
    top = start(flows, "level_7")
    # Each level starts the next at once; past MAX_CALL_DEPTH the start is refused and recorded.
    instance, depth = flows.instance(top), 0
    while instance.calls and instance.calls[0]["child_instance"] is not None:
        instance, depth = flows.instance(instance.calls[0]["child_instance"]), depth + 1
    assert depth == 5
    (refused,) = events(flows, instance.id, "ChildNotStarted")
    assert refused.problem == "more than 5 flows called in one step (a loop?)"


PARALLEL = {"nodes": [{"id": "start", "type": "start", "name": "发起"},
                      {"id": "split", "type": "parallel_split", "name": "并行核查"},
                      {"id": "kyc", "type": "call", "name": "反洗钱", "call_flow": "kyc"},
                      {"id": "kyc_again", "type": "call", "name": "复核", "call_flow": "kyc"},
                      {"id": "join", "type": "parallel_join", "name": "汇合"},
                      *parent_graph()["nodes"][2:]],
            "edges": [{"source": "start", "target": "split"}, {"source": "split", "target": "kyc"},
                      {"source": "split", "target": "kyc_again"}, {"source": "kyc", "target": "join"},
                      {"source": "kyc_again", "target": "join"}, {"source": "join", "target": "review"},
                      {"source": "review", "target": "end"}]}


def test_call_nodes_in_parallel_branches_wait_for_both_children_and_a_rejection_cancels_the_other(calls):
    flows = calls.flows
    publish(flows, "opening_parallel", PARALLEL)
    both, one_fails = start(flows, "opening_parallel"), start(flows, "opening_parallel")
    children = {c["node"]: flows.instance(c["child_instance"]) for c in flows.instance(both).calls}
    assert sorted(children) == ["kyc", "kyc_again"]
    flows.approve(as_("clara"), children["kyc"].id, open_task(children["kyc"])["id"], "ok")
    assert sorted(flows.instance(both).tokens.values()) == ["join", "kyc_again"]
    flows.approve(as_("clara"), children["kyc_again"].id, open_task(children["kyc_again"])["id"], "ok")
    assert open_task(flows.instance(both))["node"] == "review"

    children = {c["node"]: flows.instance(c["child_instance"]) for c in flows.instance(one_fails).calls}
    flows.reject(as_("clara"), children["kyc"].id, open_task(children["kyc"])["id"], "不通过")
    assert flows.instance(one_fails).status == "rejected"
    assert flows.instance(children["kyc_again"].id).status == "terminated"
