"""A firm for the tenant signing of seed 004 over HTTP: one head office with SALES, OPS, CLEARING
and FINANCE (one person each), the signing published, and bank data masked for all but FINANCE.
The fixture itself, ``signing`` (each person's auth headers), is in conftest.py."""
from __future__ import annotations

import copy

from domain.shared.context import CommandContext
from tests.flows import PLAIN_SIGNING_FLOW, publish_plain_signing

SETUP = CommandContext("admin:bootstrap", "setup")
PASSWORD = "Signing-Flow-2026"
BASE = {"basic": {"tenant_name_cn": "甲公司", "uscc": "91350100M000100Y43", "contact_name": "王",
                  "contact_phone": "13812345678"},
        "commercial": {"products": ["VCC"], "term_months": 12}}
START = {"commercial": BASE["commercial"]}  # SALES fills its own section; OPS enters "basic"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def set_up(client, app) -> dict:
    """The firm in ``app``; returns each person's auth headers by login."""
    c = client
    app.access.create_business_line(SETUP, "brokerage", "Brokerage")
    hq = app.access.create_department(SETUP, "HQ", "HQ", "head_office", None).id
    handle = ["flows.instances.view", "flows.tasks.handle"]
    roles = {"sales": handle + ["flows.instances.start"], "ops": handle, "clearing": handle, "finance": handle}
    for key, permissions in roles.items():
        app.access.create_role(SETUP, key, key, permissions)
    tokens = {}
    for login, role in [("sam", "sales"), ("olga", "ops"), ("clara", "clearing"), ("fiona", "finance")]:
        op = app.access.create_operator(SETUP, login, login, hq, None, None, PASSWORD).id
        app.access.grant_roles(SETUP, op, [role])
        app.access.set_business_lines(SETUP, op, ["brokerage"])
        app.access.set_data_scope(SETUP, op, [{"department_id": str(hq), "include_children": True}], [])
    app.access.define_field_rule(SETUP, "flows.instance", "bank_account", "masked", "bank_card", [], [],
                                 ["finance"], [])
    assert app.progress.wait_for(list(app.runners), publish_plain_signing(app, SETUP), 10)
    for login in ("sam", "olga", "clara", "fiona"):
        t = ok(c.post("/api/v1/auth/login", json={"login_name": login, "password": PASSWORD}))
        tokens[login] = {"Authorization": f"Bearer {t['access_token']}"}
    return tokens


def todo_task(client, who, headers, position):
    """The one task in ``who``'s todo once the read model has reached ``position``."""
    todo = ok(client.get("/api/v1/flows/todo", params={"wait_for_position": position}, headers=headers))
    assert len(todo["items"]) == 1, (who, todo)
    return todo["items"][0]


def hide_commercial_at_ops_entry(container) -> None:
    """Publish the plain signing again with the commercial section hidden from OPS entry's handlers."""
    flow = copy.deepcopy(PLAIN_SIGNING_FLOW)
    ops_entry = next(n for n in flow["nodes"] if n["id"] == "ops_entry")
    ops_entry["field_permissions"] = {**ops_entry["field_permissions"], "commercial": "hidden"}
    container.flows.save_draft(SETUP, "tenant_signing", flow, {"deduplication": "none", "empty_assignee": "block"},
                               None)
    container.flows.publish(SETUP, "tenant_signing", None)
