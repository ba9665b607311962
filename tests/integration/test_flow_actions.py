"""Approvals a compliance officer signs off (issue item 5): take back (拿回), removing an added
signer (减签), an administrator's jump (跳转), returns to any visited node, and reason codes on
rejections and returns — each an event, refused where the rules say so, and in the timeline."""
from __future__ import annotations

import copy

import pytest

from domain.flows.graph import Graph, jump_targets_allowed
from domain.flows.instance import FlowInstance
from domain.flows.instance.errors import (
    AlreadyActedError,
    AlreadyClaimedError,
    AlreadyReadError,
    AlreadySignedError,
)
from domain.shared.errors import DomainError, PermissionDeniedError, RuleViolationError
from tests.integration.flow_firm import ADMIN, START, as_, open_task

REASON_CODES = [{"code": "DOC_MISSING", "label": "资料缺失", "counted": False},
                {"code": "RATE_WRONG", "label": "费率错误", "counted": True}]


def _events(flows, instance_id, name):
    return [e for e in flows.events.get(instance_id) if type(e).__name__ == name]


def _timeline(container, instance_id, kind):
    container.runners["flows.instances"].catch_up()
    return [e for e in container.instance_queries.timeline(instance_id) if e["kind"] == kind]


def _start(flows, key="tenant_signing", title="签约"):
    return flows.start_instance(as_("sam"), key, "institution", START, title=title).id


def _publish_variant(container, key, change, settings=None):
    """A second flow of the tenant-signing business type: the plain signing graph, changed."""
    flows = container.flows
    graph = copy.deepcopy(flows.current_definition("tenant_signing").versions[-1]["graph"])
    change(graph)
    flows.create_definition(ADMIN, key, key, "tenant_signing", "brokerage", "")
    flows.save_draft(ADMIN, key, graph, {"deduplication": "none", "empty_assignee": "block", **(settings or {})},
                     None)
    flows.publish(ADMIN, key, None)


def _node(graph, node_id):
    return next(n for n in graph["nodes"] if n["id"] == node_id)


# -- 拿回 ---------------------------------------------------------------------------------------
def test_the_last_approver_takes_back_a_task_while_the_next_node_has_not_acted(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    entry = open_task(flows.instance(iid))
    flows.approve(as_("olga"), iid, entry["id"], "录入完成")
    review = open_task(flows.instance(iid))
    assert review["node"] == "ops_review"

    flows.take_back(as_("olga"), iid, entry["id"], "漏填一项")

    inst = flows.instance(iid)
    assert inst.tasks[review["id"]]["status"] == "cancelled"
    reopened = open_task(inst)
    assert (reopened["node"], reopened["candidates"], reopened["mode"]) == ("ops_entry", ["operator:olga"], "single")
    (event,) = _events(flows, iid, "TaskTakenBack")
    assert (event.task, event.node, event.by, event.cancelled) == (entry["id"], "ops_entry", "operator:olga",
                                                                   [review["id"]])
    (line,) = _timeline(container, iid, "taken_back")
    assert (line["node"], line["task_id"], line["actor"], line["comment"]) == (
        "ops_entry", entry["id"], "operator:olga", "漏填一项")
    assert line["detail"] == {"cancelled": [review["id"]]}
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    assert [t["task_id"] for t in container.instance_queries.todo("operator:olga", everyone, filters={})] == [
        reopened["id"]]
    assert container.instance_queries.todo("operator:oscar", everyone, filters={}) == []
    assert container.instance_queries.instance(iid)["current_nodes"] == ["ops_entry"]

    flows.approve(as_("olga"), iid, reopened["id"], "补齐")  # ...and the flow goes on from there
    assert open_task(flows.instance(iid))["node"] == "ops_review"


def test_taking_back_is_refused_once_the_next_node_has_acted_or_by_someone_else(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    entry = open_task(flows.instance(iid))
    flows.approve(as_("olga"), iid, entry["id"], "ok")
    with pytest.raises(PermissionDeniedError):
        flows.take_back(as_("oscar"), iid, entry["id"], "")  # oscar did not approve it
    review = open_task(flows.instance(iid))
    with pytest.raises(RuleViolationError):
        flows.take_back(as_("olga"), iid, review["id"], "")  # still open: decide it instead
    flows.approve(as_("oscar"), iid, review["id"], "ok")
    version = flows.instance(iid).version
    with pytest.raises(AlreadyActedError) as refused:
        flows.take_back(as_("olga"), iid, entry["id"], "")
    assert refused.value.code == "already_acted"
    assert flows.instance(iid).version == version and not _events(flows, iid, "TaskTakenBack")


def test_taking_back_is_refused_once_someone_after_signed_as_an_added_signer(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    entry = open_task(flows.instance(iid))
    flows.approve(as_("olga"), iid, entry["id"], "ok")
    review = open_task(flows.instance(iid))
    flows.add_signer(as_("oscar"), iid, review["id"], "operator:fiona", "before", "请会签")
    flows.approve(as_("fiona"), iid, review["id"], "同意")  # a signature is an action after the task
    with pytest.raises(AlreadyActedError):
        flows.take_back(as_("olga"), iid, entry["id"], "")


def test_a_reassigned_task_drops_its_added_signers_in_the_todo_lists_too(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    task = open_task(flows.instance(iid))
    flows.add_signer(as_("olga"), iid, task["id"], "operator:fiona", "before", "请财务先看")
    flows.reassign(ADMIN, iid, task["id"], [{"kind": "role", "value": "clearing"}], "运营人手不足")
    instance = flows.instance(iid)
    handlers = instance.current_handlers(open_task(instance))
    assert "operator:fiona" not in handlers
    container.runners["flows.instances"].catch_up()
    inbox = container.instance_queries.detail(iid)["handlers"]
    assert sorted(inbox) == sorted(handlers)


# -- 减签 ---------------------------------------------------------------------------------------
def test_a_handler_removes_a_signer_they_added_before_the_signer_signs(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    task = open_task(flows.instance(iid))
    flows.add_signer(as_("olga"), iid, task["id"], "operator:fiona", "before", "请财务先看")
    assert flows.instance(iid).current_handlers(open_task(flows.instance(iid))) == ["operator:fiona"]

    flows.remove_signer(as_("olga"), iid, task["id"], "operator:fiona", "不需要了")

    task = open_task(flows.instance(iid))
    assert task["before"] == [] and flows.instance(iid).current_handlers(task) == [
        "operator:olga", "operator:oscar"]
    (event,) = _events(flows, iid, "SignerRemoved")
    assert (event.by, event.signer, event.position) == ("operator:olga", "operator:fiona", "before")
    (line,) = _timeline(container, iid, "signer_removed")
    assert (line["node"], line["task_id"], line["actor"], line["comment"], line["detail"]) == (
        "ops_entry", task["id"], "operator:olga", "不需要了", {"signer": "operator:fiona", "position": "before"})
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    assert container.instance_queries.todo("operator:fiona", everyone, filters={}) == []
    assert [t["task_id"] for t in container.instance_queries.todo("operator:olga", everyone, filters={})] == [
        task["id"]]


def test_removing_the_last_signer_after_lets_the_flow_go_on(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    task = open_task(flows.instance(iid))
    flows.add_signer(as_("olga"), iid, task["id"], "operator:clara", "after", "请清算确认")
    flows.approve(as_("olga"), iid, task["id"], "ok")  # now clara's turn
    assert flows.instance(iid).current_handlers(open_task(flows.instance(iid))) == ["operator:clara"]
    flows.remove_signer(as_("olga"), iid, task["id"], "operator:clara", "")
    inst = flows.instance(iid)
    assert inst.tasks[task["id"]]["status"] == "approved" and open_task(inst)["node"] == "ops_review"


def test_removing_a_signer_who_has_signed_or_whom_someone_else_added_is_refused(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    task = open_task(flows.instance(iid))
    flows.add_signer(as_("olga"), iid, task["id"], "operator:clara", "after", "")
    flows.add_signer(as_("olga"), iid, task["id"], "operator:fiona", "before", "")
    with pytest.raises(PermissionDeniedError):
        flows.remove_signer(as_("oscar"), iid, task["id"], "operator:clara", "")  # olga added clara
    flows.approve(as_("fiona"), iid, task["id"], "签了")
    with pytest.raises(AlreadySignedError) as refused:
        flows.remove_signer(as_("olga"), iid, task["id"], "operator:fiona", "")
    assert refused.value.code == "already_signed"
    with pytest.raises(RuleViolationError):
        flows.remove_signer(as_("olga"), iid, task["id"], "operator:carl", "")  # never added
    assert not _events(flows, iid, "SignerRemoved")


# -- 跳转 ---------------------------------------------------------------------------------------
def test_an_administrator_jumps_the_flow_to_another_node_with_a_reason(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    entry = open_task(flows.instance(iid))

    flows.jump(as_("ada"), iid, "finance_entry", "运营已线下审核")

    inst = flows.instance(iid)
    assert inst.tasks[entry["id"]]["status"] == "cancelled"
    task = open_task(inst)
    assert (task["node"], task["candidates"]) == ("finance_entry", ["operator:fiona"])
    (event,) = _events(flows, iid, "Jumped")
    assert (event.from_nodes, event.target, event.by, event.reason) == (
        ["ops_entry"], "finance_entry", "operator:ada", "运营已线下审核")
    (line,) = _timeline(container, iid, "jumped")
    assert (line["node"], line["task_id"], line["actor"], line["comment"]) == (
        "finance_entry", None, "operator:ada", "运营已线下审核")
    assert line["detail"]["from"] == ["ops_entry"] and line["detail"]["target"] == "finance_entry"
    assert container.instance_queries.instance(iid)["current_nodes"] == ["finance_entry"]

    flows.jump(as_("ada"), iid, "start", "请发起人补充")  # to the start: the initiator's todo
    inst = flows.instance(iid)
    assert inst.awaiting_resubmit and open_task(inst)["candidates"] == ["operator:sam"]
    flows.resubmit(as_("sam"), iid)
    assert open_task(flows.instance(iid))["node"] == "ops_entry"


def test_a_jump_to_an_end_a_join_or_into_a_parallel_branch_or_without_a_reason_is_refused(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    for target, reason in [("end", "完成"), ("nowhere", "x"), ("finance_entry", "  ")]:
        with pytest.raises(RuleViolationError):
            flows.jump(as_("ada"), iid, target, reason)
    assert not _events(flows, iid, "Jumped")
    parallel = Graph.model_validate({
        "nodes": [{"id": "start", "type": "start", "name": "s"},
                  {"id": "split", "type": "parallel_split", "name": "p"},
                  {"id": "a", "type": "approval", "name": "a", "mode": "single",
                   "assignees": [{"kind": "role", "value": "ops"}]},
                  {"id": "b", "type": "approval", "name": "b", "mode": "single",
                   "assignees": [{"kind": "role", "value": "ops"}]},
                  {"id": "join", "type": "parallel_join", "name": "j"},
                  {"id": "after", "type": "approval", "name": "after", "mode": "single",
                   "assignees": [{"kind": "role", "value": "ops"}]},
                  {"id": "end", "type": "end", "name": "e"}],
        "edges": [{"source": "start", "target": "split"}, {"source": "split", "target": "a"},
                  {"source": "split", "target": "b"}, {"source": "a", "target": "join"},
                  {"source": "b", "target": "join"}, {"source": "join", "target": "after"},
                  {"source": "after", "target": "end"}]})
    assert jump_targets_allowed(parallel) == {"start", "split", "after"}


# -- return to any visited node -------------------------------------------------------------
def test_a_node_allowing_return_to_any_visited_returns_to_any_earlier_approval(firm):
    container, _ = firm
    flows = container.flows
    _publish_variant(container, "signing_any_return",
                     lambda g: _node(g, "finance_review").update(return_to_any_visited=True))
    iid = _start(flows, "signing_any_return")
    for login in ("olga", "oscar", "clara", "carl", "fiona"):
        flows.approve(as_(login), iid, open_task(flows.instance(iid))["id"], "ok")
    task = open_task(flows.instance(iid))
    assert task["node"] == "finance_review"
    with pytest.raises(RuleViolationError):
        flows.return_to(as_("fiona"), iid, task["id"], "tenant_sign", "x")  # not visited
    flows.return_to(as_("fiona"), iid, task["id"], "ops_entry", "回到运营录入")  # not in return_targets
    assert open_task(flows.instance(iid))["node"] == "ops_entry"


def test_without_return_to_any_visited_only_the_return_targets_are_allowed(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    for login in ("olga", "oscar", "clara", "carl", "fiona"):
        flows.approve(as_(login), iid, open_task(flows.instance(iid))["id"], "ok")
    task = open_task(flows.instance(iid))
    with pytest.raises(RuleViolationError, match="may return to"):
        flows.return_to(as_("fiona"), iid, task["id"], "ops_entry", "x")


def test_publishing_refuses_return_to_any_visited_on_a_node_that_is_no_approval(firm):
    container, _ = firm
    with pytest.raises(DomainError) as refused:
        _publish_variant(container, "signing_bad_return",
                         lambda g: _node(g, "archive").update(return_to_any_visited=True))
    assert refused.value.code == "invalid_flow_graph"


# -- reason codes -----------------------------------------------------------------------------
def test_a_rejection_records_a_reason_code_from_the_catalogue(firm):
    container, _ = firm
    flows = container.flows
    _publish_variant(container, "signing_reasons", lambda g: None, {"reason_codes": REASON_CODES})
    iid = _start(flows, "signing_reasons")
    task = open_task(flows.instance(iid))
    flows.reject(as_("olga"), iid, task["id"], "费率不对", "RATE_WRONG")
    (event,) = _events(flows, iid, "TaskRejected")
    assert event.reason_code == "RATE_WRONG"
    line, finished = _timeline(container, iid, "rejected")  # the task's rejection, then the flow's end
    assert finished["task_id"] is None
    assert (line["node"], line["task_id"], line["detail"]) == ("ops_entry", task["id"], {"reason_code": "RATE_WRONG"})


def test_a_return_records_a_reason_code_and_an_unknown_code_is_refused(firm):
    container, _ = firm
    flows = container.flows
    _publish_variant(container, "signing_reasons", lambda g: None, {"reason_codes": REASON_CODES})
    iid = _start(flows, "signing_reasons")
    flows.approve(as_("olga"), iid, open_task(flows.instance(iid))["id"], "ok")
    task = open_task(flows.instance(iid))
    for code in ("NOT_LISTED", "rate_wrong"):
        with pytest.raises(RuleViolationError) as refused:
            flows.return_to(as_("oscar"), iid, task["id"], "ops_entry", "x", code)
        assert refused.value.field == "reason_code"
    with pytest.raises(RuleViolationError):
        flows.reject(as_("oscar"), iid, task["id"], "x", "NOT_LISTED")
    assert not _events(flows, iid, "Returned") and not _events(flows, iid, "TaskRejected")
    flows.return_to(as_("oscar"), iid, task["id"], "ops_entry", "证照缺失", "DOC_MISSING")
    (event,) = _events(flows, iid, "Returned")
    assert event.reason_code == "DOC_MISSING"
    (line,) = _timeline(container, iid, "returned")
    assert line["detail"] == {"origin": "ops_review", "target": "ops_entry", "reason_code": "DOC_MISSING"}


def test_a_flow_without_a_catalogue_refuses_any_reason_code_and_still_takes_none(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    task = open_task(flows.instance(iid))
    with pytest.raises(RuleViolationError):
        flows.reject(as_("olga"), iid, task["id"], "x", "RATE_WRONG")
    flows.reject(as_("olga"), iid, task["id"], "x")
    (event,) = _events(flows, iid, "TaskRejected")
    assert event.reason_code is None and flows.instance(iid).status == "rejected"


@pytest.mark.parametrize("codes", [
    [{"code": "A", "label": "a"}],                                                # counted missing
    [{"code": "A", "label": "a", "counted": "yes"}],                              # not a boolean
    [{"code": "A", "label": "a", "counted": True}, {"code": "A", "label": "b", "counted": False}],  # twice
    [{"code": "has space", "label": "a", "counted": True}],
    "A,B"])
def test_saving_a_malformed_reason_code_catalogue_is_refused(firm, codes):
    container, _ = firm
    flows = container.flows
    graph = flows.current_definition("tenant_signing").versions[-1]["graph"]
    with pytest.raises(RuleViolationError) as refused:
        flows.save_draft(ADMIN, "tenant_signing", graph,
                         {"deduplication": "none", "empty_assignee": "block", "reason_codes": codes}, None)
    assert refused.value.field.startswith("settings.reason_codes")


def test_old_events_without_a_reason_code_replay(firm):
    """Events stored before reason codes existed carry no reason_code: they still apply."""
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    flows.approve(as_("olga"), iid, open_task(flows.instance(iid))["id"], "ok")
    flows.return_to(as_("oscar"), iid, open_task(flows.instance(iid))["id"], "ops_entry", "x")
    events = list(flows.events.get(iid))
    (returned,) = [e for e in events if type(e).__name__ == "Returned"]
    object.__delattr__(returned, "reason_code")  # as an event stored before the field existed
    assert "reason_code" not in returned.__dict__
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert isinstance(replayed, FlowInstance) and open_task(replayed)["node"] == "ops_entry"


# -- 认领 (pool tasks) and 抄送已读 ---------------------------------------------------------------
EVERYONE = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}


def test_a_pool_candidate_claims_the_task_and_the_others_no_longer_see_it(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    task = open_task(flows.instance(iid))
    assert task["candidates"] == ["operator:olga", "operator:oscar"]
    flows.claim(as_("olga"), iid, task["id"])
    assert open_task(flows.instance(iid))["candidates"] == ["operator:olga"]
    (event,) = _events(flows, iid, "TaskClaimed")
    assert (event.task, event.node, event.by, event.pool) == (
        task["id"], "ops_entry", "operator:olga", ["operator:olga", "operator:oscar"])
    (line,) = _timeline(container, iid, "claimed")
    assert (line["node"], line["task_id"], line["actor"], line["detail"]) == (
        "ops_entry", task["id"], "operator:olga", {"pool": ["operator:olga", "operator:oscar"]})
    assert container.instance_queries.todo("operator:oscar", EVERYONE, filters={}) == []
    assert [t["task_id"] for t in container.instance_queries.todo("operator:olga", EVERYONE, filters={})] == [
        task["id"]]
    with pytest.raises(PermissionDeniedError):
        flows.approve(as_("oscar"), iid, task["id"], "ok")
    flows.approve(as_("olga"), iid, task["id"], "ok")


def test_claiming_a_claimed_task_or_one_offered_to_one_person_is_refused(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    task = open_task(flows.instance(iid))
    flows.claim(as_("olga"), iid, task["id"])
    with pytest.raises(AlreadyClaimedError) as refused:
        flows.claim(as_("oscar"), iid, task["id"])
    assert refused.value.code == "already_claimed"
    with pytest.raises(RuleViolationError):
        flows.claim(as_("olga"), iid, task["id"])  # hers alone now: no pool
    with pytest.raises(PermissionDeniedError):
        flows.claim(as_("fiona"), iid, task["id"])  # not a candidate
    assert len(_events(flows, iid, "TaskClaimed")) == 1


def test_a_cc_recipient_marks_the_copy_read_once(firm):
    container, _ = firm
    flows = container.flows
    iid = _start(flows)
    flows.cc(as_("sam"), iid, ["operator:clara"], "知悉")
    container.runners["flows.instances"].catch_up()
    (row,) = container.instance_queries.copied_to("operator:clara", EVERYONE)
    assert row["read_at"] is None
    with pytest.raises(PermissionDeniedError):
        flows.mark_cc_read(as_("olga"), iid)  # nothing was copied to olga
    flows.mark_cc_read(as_("clara"), iid)
    (line,) = _timeline(container, iid, "cc_read")
    assert line["actor"] == "operator:clara"
    (row,) = container.instance_queries.copied_to("operator:clara", EVERYONE)
    assert row["read_at"] is not None
    with pytest.raises(AlreadyReadError) as refused:
        flows.mark_cc_read(as_("clara"), iid)
    assert refused.value.code == "already_read"
    flows.cc(as_("sam"), iid, ["operator:clara"], "再看一下")  # a new copy is unread again
    flows.mark_cc_read(as_("clara"), iid)
    container.runners["flows.instances"].catch_up()
    assert all(r["read_at"] for r in container.instance_queries.copied_to("operator:clara", EVERYONE))
