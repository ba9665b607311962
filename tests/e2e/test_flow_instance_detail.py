"""The instance detail is read from the read model while the read model holds the instance's
newest version, and from the event store when it does not: a lagging row never decides who may
see a flow, what its form shows or who handles it."""
from __future__ import annotations

from tests.e2e.signing_firm import SETUP, START, hide_commercial_at_ops_entry, ok, todo_task


def _sql(container, statement, params):
    with container.store.datastore.get_connection() as conn:
        conn.execute(statement, params)


def _started(client, signing):
    started = ok(client.post("/api/v1/flows/instances", headers=signing["sam"], json={
        "definition": "tenant_signing", "subject": "institution", "title": "detail", "data": START}), 201)
    task = todo_task(client, "olga", signing["olga"], started["position"])
    return started, task


def test_a_current_read_model_answers_the_detail(client, signing, live_container):
    started, _ = _started(client, signing)
    iid = started["id"]
    # Only the read model knows this title: the answer shows it came from there.
    _sql(live_container, "UPDATE flows_instance_data SET data = data || '{\"read_model_marker\": 1}'::jsonb"
                         " WHERE instance_id = %s", (iid,))
    detail = client.get(f"/api/v1/flows/instances/{iid}", headers=signing["sam"])
    assert detail.status_code == 200
    assert detail.json()["data"]["read_model_marker"] == 1
    assert detail.headers["ETag"] == f'"{detail.json()["version"]}"'


def test_a_lagging_read_model_is_not_trusted_for_the_form_the_handlers_or_the_version(
        client, signing, live_container):
    hide_commercial_at_ops_entry(live_container)
    started, task = _started(client, signing)
    iid = started["id"]
    fresh = {who: ok(client.get(f"/api/v1/flows/instances/{iid}", headers=signing[who])) for who in ("sam", "olga")}
    assert "commercial" in fresh["sam"]["data"] and "commercial" not in fresh["olga"]["data"]
    assert fresh["olga"]["hidden_fields"] == ["commercial"]
    assert fresh["olga"]["current_handlers"] == ["operator:olga"]

    # The row falls one version behind the store and its copy of the form is wrong: the detail
    # answers what the event store holds, and the same as a current read model would.
    _sql(live_container, "UPDATE flows_instances SET version = version - 1 WHERE id = %s", (iid,))
    _sql(live_container, "UPDATE flows_instance_data SET data = '{}'::jsonb WHERE instance_id = %s", (iid,))
    _sql(live_container, "DELETE FROM flows_todo_inbox WHERE instance_id = %s", (iid,))
    for who in ("sam", "olga"):
        lagging = client.get(f"/api/v1/flows/instances/{iid}", headers=signing[who])
        assert lagging.status_code == 200
        body = lagging.json()
        assert lagging.headers["ETag"] == f'"{fresh[who]["version"]}"'
        for key in ("data", "hidden_fields", "current_handlers"):
            assert body[key] == fresh[who][key], (who, key)


def test_a_flow_moved_out_of_your_scope_is_hidden_even_while_the_read_model_lags(
        client, signing, live_container):
    started, _ = _started(client, signing)
    iid = started["id"]
    row = live_container.instance_queries.instance(iid)
    assert client.get(f"/api/v1/flows/instances/{iid}", headers=signing["olga"]).status_code == 200
    elsewhere = live_container.access.create_department(SETUP, "BJ", "Beijing", "branch", None).id
    moved = live_container.flows.move_department(SETUP, iid, elsewhere, "filed under Beijing")
    assert live_container.progress.wait_for(list(live_container.runners), moved.position, 10)
    assert client.get(f"/api/v1/flows/instances/{iid}", headers=signing["olga"]).status_code == 404

    # The read model still files it under HQ, one version behind: the store decides.
    _sql(live_container, "UPDATE flows_instances SET department_id = %s, version = version - 1 WHERE id = %s",
         (row["department_id"], iid))
    hidden = client.get(f"/api/v1/flows/instances/{iid}", headers=signing["olga"])
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
