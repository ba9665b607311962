"""父子流程 over HTTP: a parent started through the API calls its child, whose link shows in both
details (to those whose scope covers them) and in the timeline; the child's approval lets the
parent go on (tests/integration/test_flow_call_activity.py covers the rules in depth)."""
from __future__ import annotations

from tests.e2e.board_firm import SETUP, base, get, ok

FLOWS = "/api/v1/flows"
CHILD = {"nodes": [{"id": "start", "type": "start", "name": "发起"},
                   {"id": "ops_check", "type": "approval", "name": "资质核查", "mode": "single",
                    "assignees": [{"kind": "role", "value": "ops"}]},
                   {"id": "end", "type": "end", "name": "完成"}],
         "edges": [{"source": "start", "target": "ops_check"}, {"source": "ops_check", "target": "end"}]}
PARENT = {"nodes": [{"id": "start", "type": "start", "name": "发起"},
                    {"id": "kyc", "type": "call", "name": "子流程: 资质核查", "call_flow": "kyc_child"},
                    {"id": "ops_review", "type": "approval", "name": "运营审核", "mode": "single",
                     "assignees": [{"kind": "role", "value": "ops"}]},
                    {"id": "end", "type": "end", "name": "完成"}],
          "edges": [{"source": "start", "target": "kyc"}, {"source": "kyc", "target": "ops_review"},
                    {"source": "ops_review", "target": "end"}]}


def _publish(app, key: str, graph: dict) -> int:
    app.flows.create_definition(SETUP, key, key, "tenant_signing", "brokerage", "")
    app.flows.save_draft(SETUP, key, graph, {"deduplication": "none", "empty_assignee": "block"}, None)
    return app.flows.publish(SETUP, key, None)[0].position


def test_a_parent_started_over_http_shows_its_child_in_detail_and_timeline_and_goes_on_after_it(firm):
    app, client = firm["app"], firm["client"]
    _publish(app, "kyc_child", CHILD)
    assert app.progress.wait_for(list(app.runners), _publish(app, "signing_kyc", PARENT), 10)
    started = ok(client.post(f"{FLOWS}/instances", headers=firm["tokens"]["sam"], json={
        "definition": "signing_kyc", "subject": "institution", "title": "签约+核查", "data": base()}), 201)

    parent = get(firm, "max", f"{FLOWS}/instances/{started['id']}", started["position"])
    (child,) = parent["children"]
    assert (child["node"], child["child_flow"], child["state"], child["status"]) == (
        "kyc", "kyc_child", "waiting", "running")
    assert parent["parent"] is None and parent["current_nodes"] == ["kyc"] and parent["current_handlers"] == []
    assert 'n_kyc(["' in parent["mermaid"]  # a call node has a shape of its own
    (line,) = [e for e in parent["timeline"] if e["kind"] == "child_started"]
    assert (line["node"], line["detail"]) == ("kyc", {"child_flow": "kyc_child", "child_instance": child["instance_id"]})

    detail = get(firm, "max", f"{FLOWS}/instances/{child['instance_id']}")
    assert (detail["parent"]["instance_id"], detail["parent"]["node"], detail["initiator"]) == (
        started["id"], "kyc", "operator:sam")
    for path in (started["id"], child["instance_id"]):  # Beijing's seller sees neither
        assert client.get(f"{FLOWS}/instances/{path}", headers=firm["tokens"]["bella"]).status_code == 404

    task = next(t for t in get(firm, "olga", f"{FLOWS}/todo")["items"] if t["instance_id"] == child["instance_id"])
    done = ok(client.post(f"{FLOWS}/instances/{child['instance_id']}/tasks/{task['task_id']}/approve",
                          headers=firm["tokens"]["olga"], json={"comment": "核查通过"}))
    parent = get(firm, "max", f"{FLOWS}/instances/{started['id']}", done["position"])
    assert parent["current_nodes"] == ["ops_review"]
    assert [(c["state"], c["status"], c["outcome"]) for c in parent["children"]] == [
        ("finished", "completed", "completed")]
    timeline = get(firm, "max", f"{FLOWS}/instances/{started['id']}/timeline", done["position"])["items"]
    (line,) = [e for e in timeline if e["kind"] == "child_finished"]
    assert (line["node"], line["detail"]) == ("kyc", {"child_instance": child["instance_id"], "outcome": "completed"})
