"""A firm for the flow read-side tests: Shanghai and Beijing branches, a seller in each, OPS
working for both, monitors scoped to Shanghai only and to both, and the 004 tenant signing
published with summary fields (OA 摘要) and a field rule masking the contact phone from
the monitors. The fixture itself, ``firm``, is in conftest.py."""
from __future__ import annotations

from domain.shared.context import CommandContext
from interfaces.demo_forms import TENANT_SIGNING
from tests.engines import ADMIN_HEADERS as ADMIN
from tests.flows import PLAIN_SIGNING_FLOW

SETUP = CommandContext("admin:bootstrap", "setup")
PASSWORD = "Board-Firm-2026"
SUMMARY_FIELDS = ["basic.tenant_name_cn", "basic.contact_phone", "commercial.term_months"]


def base(name: str = "甲公司", phone: str = "13812345678") -> dict:
    return {"basic": {"tenant_name_cn": name, "uscc": "91350100M000100Y43", "contact_name": "王",
                      "contact_phone": phone},
            "commercial": {"products": ["VCC"], "term_months": 12}}


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


# The board tests start signings with every section filled: a start node with no field
# permissions lets the initiator fill the whole form.
OPEN_START_FLOW = {**PLAIN_SIGNING_FLOW, "nodes": [
    {k: v for k, v in n.items() if k != "field_permissions"} if n["id"] == "start" else n
    for n in PLAIN_SIGNING_FLOW["nodes"]]}


def publish_with_summary_fields(app) -> int:
    """The signing published with summary fields (OA 摘要), checked against the form at publish."""
    app.flows.save_draft(SETUP, "tenant_signing", OPEN_START_FLOW, {
        "deduplication": "none", "empty_assignee": "block", "summary_fields": SUMMARY_FIELDS}, None)
    return app.flows.publish(SETUP, "tenant_signing", None)[0].position


def set_up(client, app) -> dict:
    """The firm in ``app``: its operators' tokens, departments, the client and the app."""
    app.access.create_business_line(SETUP, "brokerage", "Brokerage")
    dept = {code: app.access.create_department(SETUP, code, name, "branch", None).id
            for code, name in (("SH", "上海营业部"), ("BJ", "北京营业部"))}
    handle = ["flows.instances.view", "flows.tasks.handle"]
    roles = {"sales": handle + ["flows.instances.start"], "ops": handle,
             "monitor": ["flows.instances.view", "flows.instances.monitor", "audit.view",
                         "flows.definitions.view", "forms.business_types.view"]}
    for key, permissions in roles.items():
        app.access.create_role(SETUP, key, key, permissions)
    people = [("sam", "sales", "SH", ["SH"]), ("bella", "sales", "BJ", ["BJ"]), ("olga", "ops", "SH", ["SH", "BJ"]),
              ("mona", "monitor", "SH", ["SH"]), ("max", "monitor", "SH", ["SH", "BJ"])]
    for login, role, home, scope in people:
        op = app.access.create_operator(SETUP, login, login, dept[home], None, None, PASSWORD).id
        app.access.grant_roles(SETUP, op, [role])
        app.access.set_business_lines(SETUP, op, ["brokerage"])
        app.access.set_data_scope(SETUP, op, [{"department_id": str(dept[d]), "include_children": True}
                                              for d in scope], [])
    app.access.define_field_rule(SETUP, "flows.instance", "contact_phone", "masked", "phone", ["monitor"], [], [], [])
    app.forms.create_business_type(SETUP, "tenant_signing", "Tenant signing", "brokerage", "", ["institution"])
    app.forms.save_draft(SETUP, "tenant_signing", "institution", TENANT_SIGNING, None)
    app.forms.publish(SETUP, "tenant_signing", None)
    app.flows.create_definition(SETUP, "tenant_signing", "Tenant signing", "tenant_signing", "brokerage", "")
    position = publish_with_summary_fields(app)
    assert app.progress.wait_for(list(app.runners), position, 10)
    tokens = {}
    for login, *_ in people:
        t = ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": PASSWORD}))
        tokens[login] = {"Authorization": f"Bearer {t['access_token']}"}
    return {"tokens": tokens, "dept": {k: str(v) for k, v in dept.items()}, "client": client, "app": app}


def start(firm, who: str, title: str, *, fund_account: str | None = None, **data) -> dict:
    body = {"definition": "tenant_signing", "subject": "institution", "title": title, "data": base(**data)}
    if fund_account:
        body["fund_account"] = fund_account
    return ok(firm["client"].post("/api/v1/flows/instances", headers=firm["tokens"][who], json=body), 201)


def get(firm, who: str, path: str, position: int | None = None, **params) -> dict:
    if position is not None:
        params["wait_for_position"] = position
    return ok(firm["client"].get(path, params=params, headers=firm["tokens"].get(who, ADMIN)))


def walk(firm, who: str, path: str, position: int | None = None, **params) -> list[dict]:
    """Every item of a paged list, one item per page (limit=1, then next_cursor)."""
    items, cursor = [], None
    while True:
        page = get(firm, who, path, position, limit=1, **({"cursor": cursor} if cursor else {}), **params)
        assert len(page["items"]) <= 1
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        position = None
