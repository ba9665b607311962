"""The monitoring board's handler side table (flows_instance_handlers): after every kind of
handler change it holds exactly one row per element of flows_instances.handlers (with the
instance's start and SLA due), the board's handler filter reads it, and a rebuild makes it again."""
from __future__ import annotations

from tests.integration.flow_firm import START, as_, open_task

EVERYONE = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}


def _side(container):
    with container.store.datastore.get_connection() as conn:
        return conn.execute("SELECT handler, instance_id, started_at, sla_due_at FROM flows_instance_handlers"
                            " ORDER BY 1, 2").fetchall()


def _from_instances(container):
    with container.store.datastore.get_connection() as conn:
        return conn.execute("SELECT x AS handler, i.id AS instance_id, i.started_at, i.sla_due_at"
                            " FROM flows_instances i, unnest(i.handlers) x ORDER BY 1, 2").fetchall()


def _check(container):
    container.runners["flows.instances"].catch_up()
    side = _side(container)
    assert side == _from_instances(container)
    monitor = container.instance_queries.monitor
    for handler in {r["handler"] for r in side} | {"operator:nobody"}:
        want = sorted(r["instance_id"] for r in side if r["handler"] == handler)
        for sort in ("started", "updated", "sla_due"):
            got = monitor.instances(EVERYONE, {"handler": handler}, sort=sort)
            assert sorted(r["id"] for r in got) == want
            assert all(handler in r["handlers"] for r in got)
        counts = monitor.board(EVERYONE, {"status": "running", "handler": handler})
        assert counts["total"]["count"] == len(want)
    return side


def test_the_handler_side_table_follows_every_change_and_a_rebuild_makes_it_again(firm):
    container, _ = firm
    flows = container.flows
    a = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="甲").id
    b = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="乙").id
    c = flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title="丙").id
    side = _check(container)
    assert {(r["handler"], r["instance_id"]) for r in side} == {
        (h, i) for i in (a, b, c) for h in ("operator:olga", "operator:oscar")}

    flows.approve(as_("olga"), a, open_task(flows.instance(a))["id"], "ok")  # a moves on: other handlers
    _check(container)
    flows.transfer(as_("olga"), b, open_task(flows.instance(b))["id"], "operator:fiona", "")  # olga -> fiona
    side = _check(container)
    assert ("operator:fiona", b) in {(r["handler"], r["instance_id"]) for r in side}
    assert ("operator:olga", b) not in {(r["handler"], r["instance_id"]) for r in side}
    task = open_task(flows.instance(c))["id"]
    flows.add_signer(as_("olga"), c, task, "operator:clara", "before", "")  # only clara holds it now
    assert [r["instance_id"] for r in _check(container) if r["handler"] == "operator:clara"] == [c]
    flows.approve(as_("clara"), c, task, "")  # back to olga and oscar
    _check(container)
    flows.urge(as_("sam"), c, task)
    _check(container)
    flows.withdraw(as_("sam"), b, "不签了")  # finished: no handlers, no rows
    side = _check(container)
    assert b not in {r["instance_id"] for r in side}

    runner = container.runners["flows.instances"]
    runner.reset()
    assert _side(container) == []  # emptied with the instances
    runner.catch_up()
    assert _side(container) == side
