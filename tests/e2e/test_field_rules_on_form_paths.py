"""Field rules on any path of a business type's form (004 §7.3: business terms visible only to
SALES and management): a section, a nested field, a sub-table column — checked against the
published form when the rule is defined."""
from __future__ import annotations

import pytest

from domain.access.masking import FieldRuleView, apply_rules
from domain.forms.paths import schema_has_path
from domain.shared.context import CommandContext
from tests.engines import ADMIN_HEADERS as ADMIN
from tests.flows import publish_plain_signing

SETUP = CommandContext("admin:bootstrap", "setup")
PASSWORD = "Signing-Flow-2026"
DATA = {"commercial": {"products": ["VCC"], "term_months": 12}}  # SALES starts with its own section


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
def sales_and_ops(client, live_container):
    app = live_container
    app.access.create_business_line(SETUP, "brokerage", "Brokerage")
    hq = app.access.create_department(SETUP, "HQ", "HQ", "head_office", None).id
    handle = ["flows.instances.view", "flows.tasks.handle"]
    for key, permissions in {"sales": handle + ["flows.instances.start"], "ops": handle}.items():
        app.access.create_role(SETUP, key, key, permissions)
    for login, role in [("sam", "sales"), ("olga", "ops")]:
        op = app.access.create_operator(SETUP, login, login, hq, None, None, PASSWORD).id
        app.access.grant_roles(SETUP, op, [role])
        app.access.set_business_lines(SETUP, op, ["brokerage"])
        app.access.set_data_scope(SETUP, op, [{"department_id": str(hq), "include_children": True}], [])
    assert app.progress.wait_for(list(app.runners), publish_plain_signing(app, SETUP), 10)
    return {login: {"Authorization": "Bearer " + ok(client.post("/api/v1/auth/login", json={
        "login_name": login, "password": PASSWORD}))["access_token"]} for login in ("sam", "olga")}


def test_business_terms_are_hidden_from_ops_but_not_from_sales(client, sales_and_ops):
    rule = ok(client.post("/api/v1/access/field-rules", headers=ADMIN, json={
        "resource": "flows.instance", "field": "commercial", "effect": "hidden", "applies_to_roles": ["ops"],
        "business_type": "tenant_signing"}), 201)
    started = ok(client.post("/api/v1/flows/instances", headers=sales_and_ops["sam"], json={
        "definition": "tenant_signing", "subject": "institution", "title": "甲公司签约", "data": DATA}), 201)
    position = max(rule["position"], started["position"])
    as_ops = ok(client.get(f"/api/v1/flows/instances/{started['id']}", headers=sales_and_ops["olga"],
                           params={"wait_for_position": position}))
    as_sales = ok(client.get(f"/api/v1/flows/instances/{started['id']}", headers=sales_and_ops["sam"],
                             params={"wait_for_position": position}))
    assert "commercial" not in as_ops["data"] and as_ops["title"] == "甲公司签约"
    assert as_sales["data"]["commercial"] == {"products": ["VCC"], "term_months": 12}


@pytest.mark.parametrize("body,field", [
    ({"field": "commercial.no_such_field", "business_type": "tenant_signing"}, "field"),
    ({"field": "commercial"}, "business_type"),
    ({"field": "commercial", "business_type": "nope"}, None),
])
def test_a_rule_on_a_path_no_published_form_has_is_refused(client, sales_and_ops, body, field):
    r = client.post("/api/v1/access/field-rules", headers=ADMIN, json={
        "resource": "flows.instance", "effect": "hidden", "applies_to_roles": ["ops"], **body})
    assert r.status_code in (404, 422), r.text
    if field:
        assert r.json()["field"] == field


def test_paths_name_sections_nested_fields_and_sub_table_columns():
    schema = {"type": "object", "properties": {
        "settlement": {"type": "object", "properties": {"bank_account": {"type": "string"}}},
        "rates": {"type": "object", "properties": {"fee_items": {"type": "array", "items": {
            "type": "object", "properties": {"percent": {"type": "number"}}}}}}}}
    assert schema_has_path(schema, "settlement") and schema_has_path(schema, "settlement.bank_account")
    assert schema_has_path(schema, "rates.fee_items.percent")
    assert not schema_has_path(schema, "settlement.iban") and not schema_has_path(schema, "rates.percent")


def test_a_rule_on_a_sub_table_column_masks_it_in_every_row():
    rule = FieldRuleView("flows.instance", "rates.fee_items.percent", "masked", "all", frozenset(), frozenset(),
                         frozenset(), frozenset())
    data = {"rates": {"fee_items": [{"id": "r1", "percent": 2.5}, {"id": "r2", "percent": 0.1}]}}
    assert apply_rules(data, [rule]) == {"rates": {"fee_items": [{"id": "r1", "percent": "****"},
                                                                 {"id": "r2", "percent": "****"}]}}
