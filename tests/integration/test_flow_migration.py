"""Running-instance migration (ADR 0012) through the application layer on real engines: a dry run
reports without moving anything, applying moves the safe instances (which go on in the new
version), unsafe ones are refused with their reasons, a concurrent change is never lost, and a
migrated instance replays to the same state."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta

import pytest

from application.flows.migration import MigrationRequest
from domain.flows.instance import FlowInstance
from domain.flows.migration_record import InstanceMigration
from domain.flows.visibility import hidden_in as _viewer_hidden
from domain.shared.errors import InvalidInputError, RuleViolationError
from interfaces.demo_flows import ACCOUNT_OPENING_FLOW, FEE_RATE_FLOW, approval, edge
from tests.flows import PLAIN_SIGNING_FLOW
from tests.integration.flow_firm import ADMIN, START, as_
from tests.integration.test_flow_instances import _opening_in_cooling_off, _special_fee_rate

REASON = "v2 drops the second OPS review and adds a risk check"


def _publish(flows, key, graph):
    flows.save_draft(ADMIN, key, graph, {"deduplication": "none", "empty_assignee": "block"}, None)
    return flows.publish(ADMIN, key, None)[1]


def _signing_v2():
    """ops_entry -> risk_check (finance, new) -> clearing_entry: the OPS review is gone."""
    graph = copy.deepcopy(PLAIN_SIGNING_FLOW)
    graph["nodes"] = [n for n in graph["nodes"] if n["id"] != "ops_review"]
    graph["nodes"].insert(2, approval("risk_check", "风控复核 Risk check", "single", "finance"))
    graph["edges"] = [e for e in graph["edges"] if "ops_review" not in (e["source"], e["target"])]
    graph["edges"] += [edge("ops_entry", "risk_check"), edge("risk_check", "clearing_entry")]
    return graph


def _open(instance):
    return [t for t in instance.tasks.values() if t["status"] == "open"]


def _events(flows, instance_id, name):
    return [e for e in flows.events.get(instance_id) if type(e).__name__ == name]


def _signings(flows):
    """One signing at the OPS entry, one at the OPS review (which version 2 removes)."""
    at_entry = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="甲").id
    at_review = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="乙").id
    flows.approve(as_("olga"), at_review, _open(flows.instance(at_review))[0]["id"], "录入完成")
    return at_entry, at_review


def _request(ids, mapping=None, **extra):
    return MigrationRequest("tenant_signing", 1, 2, mapping or {}, REASON, instance_ids=ids, **extra)


def test_a_dry_run_reports_safe_and_unsafe_instances_without_changing_any(firm):
    container, _ = firm
    flows = container.flows
    at_entry, at_review = _signings(flows)
    withdrawn = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="丙").id
    flows.withdraw(as_("sam"), withdrawn, "客户改期")
    _publish(flows, "tenant_signing", _signing_v2())
    versions = {i: flows.instance(i).version for i in (at_entry, at_review, withdrawn)}

    report = flows.plan_migration(ADMIN, _request([at_entry, at_review, withdrawn]))

    safe, unsafe, finished = report.items
    assert report.dry_run and (safe["outcome"], unsafe["outcome"], finished["outcome"]) == ("safe", "unsafe", "unsafe")
    assert safe["title"] == "甲" and safe["moves"] == [
        {"token": safe["moves"][0]["token"], "from": "ops_entry", "to": "ops_entry", "wait": "task_kept",
         "task": _open(flows.instance(at_entry))[0]["id"]}]
    assert unsafe["current_nodes"] == ["ops_review"] and "'ops_review'" in unsafe["reasons"][0] \
        and "no counterpart in version 2" in unsafe["reasons"][0]
    assert finished["reasons"] == ["the flow is withdrawn"]
    for instance_id, version in versions.items():  # nothing moved
        assert flows.instance(instance_id).version == version and not _events(flows, instance_id, "Migrated")
    record = flows.migration(report.result.id)
    assert (record.status, record.by, record.reason, record.dry_run) == ("dry_run", "admin:test", REASON, True)
    assert [i["outcome"] for i in record.items] == ["safe", "unsafe", "unsafe"] and "title" not in record.items[0]
    container.runners["flows.migrations"].catch_up()
    container.runners["flows.instances"].catch_up()
    assert container.instance_queries.instance(at_entry)["definition_version"] == 1


def test_applying_moves_safe_instances_which_go_on_in_the_new_version(firm):
    container, _ = firm
    flows = container.flows
    at_entry, at_review = _signings(flows)
    _publish(flows, "tenant_signing", _signing_v2())

    report = flows.migrate_instances(ADMIN, _request([at_entry, at_review]))

    assert [i["outcome"] for i in report.items] == ["migrated", "unsafe"]
    moved = flows.instance(at_entry)
    assert moved.definition_version == 2 and moved.version == report.items[0]["instance_version"]
    (event,) = _events(flows, at_entry, "Migrated")
    assert (event.from_version, event.to_version, event.by, event.reason, event.migration_id) == (
        1, 2, "admin:test", REASON, report.result.id)
    assert flows.instance(at_review).definition_version == 1 and not _events(flows, at_review, "Migrated")
    # The hot copy is the migrated one, never the version-1 instance it replaced.
    assert flows.hot._items[at_entry].definition_version == 2
    flows.approve(as_("olga"), at_entry, _open(moved)[0]["id"], "录入完成")
    (task,) = _open(flows.instance(at_entry))
    assert (task["node"], task["candidates"]) == ("risk_check", ["operator:fiona"])  # the node version 2 added
    container.runners["flows.instances"].catch_up()
    row = container.instance_queries.instance(at_entry)
    assert (row["definition_version"], row["current_nodes"]) == (2, ["risk_check"])
    (line,) = [e for e in container.instance_queries.timeline(at_entry) if e["kind"] == "migrated"]
    assert (line["actor"], line["comment"], line["detail"]["from_version"], line["detail"]["to_version"],
            line["detail"]["by"]) == ("admin:test", REASON, 1, 2, "admin:test")
    record = flows.migration(report.result.id)
    assert record.status == "applied" and [i["outcome"] for i in record.items] == ["migrated", "unsafe"]
    # Each decision is a fact of the flow version its instance ran when it was taken (whose reason
    # codes say whether a rejection counts for assessment).
    container.runners["analytics.flow_facts"].catch_up()
    ch = container.clickhouse
    versions = ch.query(f"SELECT instance_id, node, definition_version FROM {ch.db}.flow_decision_facts FINAL"
                        " WHERE definition_key = 'tenant_signing' ORDER BY position")
    assert [(i, node, v) for i, node, v in versions if i in (at_entry, at_review)] == [
        (at_review, "ops_entry", 1), (at_entry, "ops_entry", 2)]


def test_an_instance_at_a_removed_node_is_refused_unless_mapped_and_a_changed_node_reopens_its_task(firm):
    container, _ = firm
    flows = container.flows
    _, at_review = _signings(flows)
    _publish(flows, "tenant_signing", _signing_v2())
    (refused,) = flows.migrate_instances(ADMIN, _request([at_review])).items
    assert refused["outcome"] == "unsafe" and "map it to a node of the same type" in refused["reasons"][0]
    old_task = _open(flows.instance(at_review))[0]

    (moved,) = flows.migrate_instances(ADMIN, _request([at_review], {"ops_review": "risk_check"})).items

    # risk_check asks other people than ops_review did: the OPS task is cancelled and finance gets one.
    assert moved["outcome"] == "migrated" and moved["moves"][0]["wait"] == "task_reopened"
    assert moved["tasks_opened"] == [{"node": "risk_check", "candidates": ["operator:fiona"]}]
    inst = flows.instance(at_review)
    assert inst.tasks[old_task["id"]]["status"] == "cancelled" and "risk_check" in inst.visited
    assert "ops_review" not in inst.visited  # history speaks the new version's ids
    container.runners["flows.instances"].catch_up()
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}

    def todo(login):
        return [t["node"] for t in container.instance_queries.todo(f"operator:{login}", everyone, filters={})
                if t["instance_id"] == at_review]
    assert (todo("fiona"), todo("oscar")) == (["risk_check"], [])


def test_a_mapping_to_an_unknown_node_or_an_older_version_is_refused_before_anything_is_recorded(firm):
    container, _ = firm
    flows = container.flows
    at_entry, _ = _signings(flows)
    _publish(flows, "tenant_signing", _signing_v2())
    with pytest.raises(InvalidInputError) as bad:
        flows.plan_migration(ADMIN, _request([at_entry], {"ops_review": "nowhere", "start": "ops_entry"}))
    assert bad.value.code == "invalid_migration_mapping"
    assert [e["path"] for e in bad.value.errors] == ["mapping.ops_review", "mapping.start"]
    with pytest.raises(RuleViolationError) as older:
        flows.plan_migration(ADMIN, MigrationRequest("tenant_signing", 2, 1, {}, REASON, instance_ids=[at_entry]))
    assert older.value.field == "to_version"
    with pytest.raises(RuleViolationError) as unpublished:
        flows.plan_migration(ADMIN, MigrationRequest("tenant_signing", 1, 3, {}, REASON, instance_ids=[at_entry]))
    assert unpublished.value.field == "to_version"
    with pytest.raises(RuleViolationError):
        flows.plan_migration(ADMIN, MigrationRequest("tenant_signing", 1, 2, {}, "  ", instance_ids=[at_entry]))


def test_a_token_in_a_parallel_branch_is_refused_when_the_region_changed_and_carried_when_it_did_not(firm):
    container, _ = firm
    flows = container.flows
    in_branches = _special_fee_rate(flows)
    at_head = flows.start_instance(as_("sam"), "fee_rate_change", "individual", {
        "customer": {"fund_account": "88001234"}, "exchange": "SHFE", "effective_date": "2026-12-01",
        "special_reason": "大客户", "rates": [{"id": "r1", "product": "cu", "rate": 0.5}]}, title="费率").id
    ops = next(t for t in _open(flows.instance(in_branches)) if t["node"] == "ops_review")
    flows.approve(as_("olga"), in_branches, ops["id"], "ok")  # its branch now waits at the join
    wider = copy.deepcopy(FEE_RATE_FLOW)  # version 2: a risk review inside the clearing branch
    wider["nodes"].insert(5, approval("risk_review", "风控 Risk", "single", "finance"))
    wider["edges"] = [e for e in wider["edges"] if e != edge("clearing_review", "special_join")]
    wider["edges"] += [edge("clearing_review", "risk_review"), edge("risk_review", "special_join")]
    _publish(flows, "fee_rate_change", wider)
    request = MigrationRequest("fee_rate_change", 1, 2, {}, REASON, instance_ids=[in_branches, at_head])

    refused, moved = flows.migrate_instances(ADMIN, request).items

    assert refused["outcome"] == "unsafe" and refused["reasons"] == [
        "the parallel region from 'special_split' to 'special_join' holds a token, and it is not the same "
        "region in version 2"]
    assert moved["outcome"] == "migrated"
    same = copy.deepcopy(FEE_RATE_FLOW)  # version 3: the region as in version 1, a name changed outside it
    same["nodes"][-1]["name"] = "完成 Finished"
    _publish(flows, "fee_rate_change", same)
    (carried,) = flows.migrate_instances(ADMIN, MigrationRequest(
        "fee_rate_change", 1, 3, {}, REASON, instance_ids=[in_branches])).items
    assert carried["outcome"] == "migrated"
    assert sorted(m["wait"] for m in carried["moves"]) == ["join", "task_kept"]
    clearing = next(t for t in _open(flows.instance(in_branches)) if t["node"] == "clearing_review")
    for login in ("clara", "carl"):
        flows.approve(as_(login), in_branches, clearing["id"], "ok")
    assert flows.instance(in_branches).status == "completed"  # the join counted the branch that waited


def test_a_paused_instance_moves_only_to_a_pause_and_keeps_its_due_time(firm):
    container, clock = firm
    flows = container.flows
    paused = _opening_in_cooling_off(flows).id
    (due,) = flows.instance(paused).pauses.values()
    graph = copy.deepcopy(ACCOUNT_OPENING_FLOW)
    next(n for n in graph["nodes"] if n["id"] == "cooling_off")["pause_seconds"] = 3600
    flows.save_draft(ADMIN, "account_opening", graph, {"deduplication": "none", "empty_assignee": "to_admin"}, None)
    flows.publish(ADMIN, "account_opening", None)
    (moved,) = flows.migrate_instances(ADMIN, MigrationRequest(
        "account_opening", 1, 2, {}, REASON, instance_ids=[paused])).items
    assert moved["outcome"] == "migrated" and moved["moves"][0]["wait"] == "pause"
    assert list(flows.instance(paused).pauses.values()) == [due]  # decided when the pause started
    clock.now = datetime.fromisoformat(due) + timedelta(seconds=1)
    token = next(iter(flows.instance(paused).pauses))
    assert flows.end_pause(ADMIN, paused, token) == "ended"
    assert _open(flows.instance(paused))[0]["node"] == "compliance_review"


def test_a_concurrent_change_during_the_migration_is_kept_and_the_instance_still_moves(firm):
    container, _ = firm
    flows = container.flows
    at_entry, _ = _signings(flows)
    _publish(flows, "tenant_signing", _signing_v2())
    save_one, raced = flows.save_instance, []

    def racing_save(aggregate):
        if isinstance(aggregate, FlowInstance) and aggregate.definition_version == 2 and not raced:
            raced.append(True)  # another command writes the instance between the plan and its save
            flows.remark(as_("olga"), at_entry, "同时备注")
        return save_one(aggregate)

    flows.save_instance = racing_save
    try:
        (item,) = flows.migrate_instances(ADMIN, _request([at_entry])).items
    finally:
        del flows.save_instance
    assert raced and item["outcome"] == "migrated"
    names = [type(e).__name__ for e in flows.events.get(at_entry)]
    assert names.index("Remarked") < names.index("Migrated") and names.count("Migrated") == 1


def test_a_migrated_instance_replays_to_the_state_it_was_left_in(firm):
    container, _ = firm
    flows = container.flows
    _, at_review = _signings(flows)
    _publish(flows, "tenant_signing", _signing_v2())
    flows.migrate_instances(ADMIN, _request([at_review], {"ops_review": "risk_check"}))
    worked_on = flows.hot._items[at_review]  # the copy the migration changed and saved

    replayed = flows.instance(at_review)

    assert vars(replayed) == vars(worked_on)
    assert replayed.definition_version == 2 and _open(replayed)[0]["node"] == "risk_check"
    assert isinstance(flows.migration(_events(flows, at_review, "Migrated")[0].migration_id), InstanceMigration)


def test_running_instances_are_found_in_the_read_model_a_bounded_number_per_call(firm):
    container, _ = firm
    flows = container.flows
    ids = sorted(flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title=f"t{i}").id
                 for i in range(3))
    _publish(flows, "tenant_signing", _signing_v2())
    container.runners["flows.instances"].catch_up()

    first = flows.migrate_instances(ADMIN, MigrationRequest("tenant_signing", 1, 2, {}, REASON, limit=2))
    rest = flows.migrate_instances(ADMIN, MigrationRequest("tenant_signing", 1, 2, {}, REASON, limit=2,
                                                           after=first.next_after))

    assert [i["instance_id"] for i in first.items] == ids[:2] and first.more and first.next_after == ids[1]
    assert [i["instance_id"] for i in rest.items] == ids[2:] and not rest.more
    assert all(flows.instance(i).definition_version == 2 for i in ids)


def test_fields_a_removed_node_hid_from_its_handlers_stay_hidden_after_the_migration(firm):
    container, _ = firm
    flows = container.flows
    hiding = copy.deepcopy(PLAIN_SIGNING_FLOW)  # version 2: the OPS review does not see the settlement
    next(n for n in hiding["nodes"] if n["id"] == "ops_review")["field_permissions"]["settlement"] = "hidden"
    _publish(flows, "tenant_signing", hiding)
    reviewed = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="丁").id
    for login in ("olga", "oscar"):  # entry, then the review: the flow waits at the CLEARING entry
        flows.approve(as_(login), reviewed, _open(flows.instance(reviewed))[0]["id"], "ok")
    v3 = _publish(flows, "tenant_signing", _signing_v2())

    (item,) = flows.migrate_instances(ADMIN, MigrationRequest("tenant_signing", 2, v3, {}, REASON,
                                                              instance_ids=[reviewed])).items

    assert item["outcome"] == "migrated"
    inst = flows.instance(reviewed)
    assert inst.retired_hidden == {"ops_review": ["settlement"]}
    graph = flows.published_graph("tenant_signing", v3)
    assert "settlement" in _viewer_hidden(inst, graph, "operator:oscar")   # who reviewed there
    assert "settlement" not in _viewer_hidden(inst, graph, "operator:clara")
