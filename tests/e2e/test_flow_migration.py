"""Running-instance migration over HTTP (ADR 0012): a dry run and an applied migration with their
records, the instance timeline's `migrated` entry, an unsafe instance reported with its reason,
and the permission an administrator holds and a handler does not
(tests/integration/test_flow_migration.py covers the rules in depth)."""
from __future__ import annotations

import copy

from interfaces.demo_flows import approval, edge
from tests.e2e.board_firm import ADMIN, OPEN_START_FLOW, SETUP, SUMMARY_FIELDS, get, ok, start

FLOWS = "/api/v1/flows"
MIGRATIONS = f"{FLOWS}/definitions/tenant_signing/migrations"
REASON = "版本2：取消运营复核，增加风控复核"


def _publish_v2(app) -> int:
    """ops_entry -> risk_check -> clearing_entry: version 2 drops the OPS review."""
    graph = copy.deepcopy(OPEN_START_FLOW)
    graph["nodes"] = [n for n in graph["nodes"] if n["id"] != "ops_review"]
    graph["nodes"].insert(2, approval("risk_check", "风控复核 Risk check", "single", "ops"))
    graph["edges"] = [e for e in graph["edges"] if "ops_review" not in (e["source"], e["target"])]
    graph["edges"] += [edge("ops_entry", "risk_check"), edge("risk_check", "clearing_entry")]
    app.flows.save_draft(SETUP, "tenant_signing", graph, {
        "deduplication": "none", "empty_assignee": "block", "summary_fields": SUMMARY_FIELDS}, None)
    return app.flows.publish(SETUP, "tenant_signing", None)[0].position


def _post(firm, who: str, path: str, body: dict):
    return firm["client"].post(path, json=body, headers=firm["tokens"].get(who, ADMIN))


def test_an_administrator_dry_runs_then_migrates_and_the_timeline_says_so(firm):
    client = firm["client"]
    a = start(firm, "sam", "迁移甲", name="甲公司")
    b = start(firm, "sam", "迁移乙", name="乙公司")
    entry = next(t for t in get(firm, "olga", f"{FLOWS}/todo", b["position"])["items"]
                 if t["instance_id"] == b["id"])["task_id"]
    ok(_post(firm, "olga", f"{FLOWS}/instances/{b['id']}/tasks/{entry}/approve", {}))  # b: at the OPS review
    position = _publish_v2(firm["app"])
    assert firm["app"].progress.wait_for(["flows.instances"], position, 10)
    body = {"from_version": 1, "to_version": 2, "reason": REASON}

    assert _post(firm, "olga", f"{MIGRATIONS}/dry-run", body).status_code == 403  # no flows.instances.migrate
    assert _post(firm, "max", f"{MIGRATIONS}/dry-run", body).status_code == 403   # monitoring is not migrating
    bad = _post(firm, "admin", f"{MIGRATIONS}/dry-run", {**body, "mapping": {"ops_review": "nowhere"}})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_migration_mapping"
    assert bad.json()["errors"][0]["path"] == "mapping.ops_review"

    planned = ok(_post(firm, "admin", f"{MIGRATIONS}/dry-run", body))
    by_title = {i["title"]: i for i in planned["items"]}
    assert planned["dry_run"] and planned["counts"] == {"safe": 1, "unsafe": 1, "migrated": 0, "conflicts": 0}
    assert by_title["迁移甲"]["outcome"] == "safe" and by_title["迁移甲"]["moves"][0]["wait"] == "task_kept"
    assert by_title["迁移乙"]["outcome"] == "unsafe" and "'ops_review'" in by_title["迁移乙"]["reasons"][0]
    assert get(firm, "max", f"{FLOWS}/instances/{a['id']}", planned["position"])["definition_version"] == 1

    applied = ok(_post(firm, "admin", MIGRATIONS, body))
    assert applied["counts"] == {"safe": 0, "unsafe": 1, "migrated": 1, "conflicts": 0} and not applied["more"]
    detail = get(firm, "max", f"{FLOWS}/instances/{a['id']}", applied["position"])
    assert (detail["definition_version"], detail["current_nodes"]) == (2, ["ops_entry"])
    (line,) = [e for e in detail["timeline"] if e["kind"] == "migrated"]
    assert (line["actor"], line["comment"], line["detail"]["from_version"], line["detail"]["to_version"],
            line["detail"]["by"]) == ("admin:bootstrap", REASON, 1, 2, "admin:bootstrap")
    assert get(firm, "max", f"{FLOWS}/instances/{b['id']}")["definition_version"] == 1  # unsafe: left alone

    listed = ok(client.get(MIGRATIONS, headers=ADMIN, params={"wait_for_position": applied["position"],
                                                               "limit": 1}))
    assert [m["id"] for m in listed["items"]] == [applied["id"]] and listed["next_cursor"]
    older = ok(client.get(MIGRATIONS, headers=ADMIN, params={"cursor": listed["next_cursor"]}))
    assert [(m["id"], m["status"], m["dry_run"]) for m in older["items"]] == [(planned["id"], "dry_run", True)]
    record = ok(client.get(f"{MIGRATIONS}/{applied['id']}", headers=ADMIN))
    assert (record["status"], record["reason"], record["actor"], record["counts"]["migrated"]) == (
        "applied", REASON, "admin:bootstrap", 1)
    assert {i["title"]: i["outcome"] for i in record["items"]} == {"迁移甲": "migrated", "迁移乙": "unsafe"}
    assert client.get(MIGRATIONS, headers=firm["tokens"]["olga"]).status_code == 403


def test_a_named_instance_outside_your_scope_is_not_found_and_a_mapped_one_moves(firm):
    b = start(firm, "sam", "映射", name="甲公司")
    entry = next(t for t in get(firm, "olga", f"{FLOWS}/todo", b["position"])["items"]
                 if t["instance_id"] == b["id"])["task_id"]
    ok(_post(firm, "olga", f"{FLOWS}/instances/{b['id']}/tasks/{entry}/approve", {}))
    _publish_v2(firm["app"])
    body = {"from_version": 1, "to_version": 2, "reason": REASON, "instance_ids": [b["id"]],
            "mapping": {"ops_review": "risk_check"}}
    missing = _post(firm, "admin", MIGRATIONS, {**body, "instance_ids": ["00000000-0000-4000-8000-000000000000"]})
    assert missing.status_code == 404
    (item,) = ok(_post(firm, "admin", MIGRATIONS, body))["items"]
    # Same mode and assignees (OPS, single): the open review task is kept and renamed.
    assert item["outcome"] == "migrated" and item["moves"][0]["wait"] == "task_kept"
    assert item["current_nodes_after"] == ["risk_check"]
