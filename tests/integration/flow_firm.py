"""The firm the flow tests run in on real engines: one business line, a head office, a person or
two per role of the 004 signing, and the tenant signing, the fee-rate change and the account
opening published. The fixture itself, ``firm``, is in conftest.py."""
from __future__ import annotations

from datetime import datetime, timezone

from domain.flows.instance import FlowInstance
from domain.shared.context import CommandContext
from interfaces.demo_flows import ACCOUNT_OPENING_FLOW, FEE_RATE_FLOW
from interfaces.demo_forms import FEE_RATE, OPENING_INDIVIDUAL, TENANT_SIGNING
from tests.flows import PLAIN_SIGNING_FLOW as TENANT_SIGNING_FLOW

ADMIN = CommandContext("admin:test", "setup")
TENANT = {"basic": {"tenant_name_cn": "甲公司", "uscc": "91350100M000100Y43", "contact_name": "王",
                    "contact_phone": "13812345678"},
          "commercial": {"products": ["VCC"], "term_months": 12}}
# What SALES may fill in at the start of the 004 signing: its own section (OPS enters "basic").
START = {"commercial": TENANT["commercial"]}


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


def as_(login):
    return CommandContext(f"operator:{login}", f"req-{login}")


def open_task(instance: FlowInstance):
    (task,) = [t for t in instance.tasks.values() if t["status"] == "open"]
    return task


def set_up(container):
    """The firm in ``container``; returns the container and the test clock its flows run on."""
    access, forms, flows = container.access, container.forms, container.flows
    flows.clock = clock = Clock()
    access.create_business_line(ADMIN, "brokerage", "Brokerage")
    hq = access.create_department(ADMIN, "HQ", "HQ", "head_office", None).id
    for key in ("sales", "ops", "clearing", "finance", "department_head", "admin"):
        access.create_role(ADMIN, key, key, ["access.departments.view"])
    people = {"sam": ["sales"], "olga": ["ops"], "oscar": ["ops"], "clara": ["clearing"], "carl": ["clearing"],
              "fiona": ["finance"], "hank": ["department_head"], "ada": ["admin"]}
    for login, roles in people.items():
        op = access.create_operator(ADMIN, login, login, hq, None, None, None).id
        access.grant_roles(ADMIN, op, roles)
        access.set_business_lines(ADMIN, op, ["brokerage"])
    for code, forms_by_subject, flow in [("tenant_signing", {"institution": TENANT_SIGNING}, TENANT_SIGNING_FLOW),
                                         ("fee_rate_change", {"individual": FEE_RATE}, FEE_RATE_FLOW),
                                         ("account_opening", {"individual": OPENING_INDIVIDUAL},
                                          ACCOUNT_OPENING_FLOW)]:
        forms.create_business_type(ADMIN, code, code, "brokerage", "", sorted(forms_by_subject))
        for subject, schema in forms_by_subject.items():
            forms.save_draft(ADMIN, code, subject, schema, None)
        forms.publish(ADMIN, code, None)
        flows.create_definition(ADMIN, code, code, code, "brokerage", "")
        rule = "to_admin" if code == "account_opening" else "block"  # nobody holds 'auditor' here
        flows.save_draft(ADMIN, code, flow, {"deduplication": "none", "empty_assignee": rule}, None)
        flows.publish(ADMIN, code, None)
    container.runners["access.principals"].catch_up()
    return container, clock


BLOCK = {"deduplication": "none", "empty_assignee": "block"}
# A flow that completes as soon as it starts: a system step between start and end.
AUTO = {"nodes": [{"id": "start", "type": "start", "name": "s"},
                  {"id": "note", "type": "system", "name": "n", "hook": "notify"},
                  {"id": "end", "type": "end", "name": "e"}],
        "edges": [{"source": "start", "target": "note"}, {"source": "note", "target": "end"}]}


def publish_flow(flows, key, graph, line="brokerage", business_type="tenant_signing", **settings):
    """A flow of its own, ``key``, for the business type, published with ``settings`` over BLOCK."""
    flows.create_definition(ADMIN, key, key, business_type, line, "")
    flows.save_draft(ADMIN, key, graph, {**BLOCK, **settings}, None)
    flows.publish(ADMIN, key, None)
