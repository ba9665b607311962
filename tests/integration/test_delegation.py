"""Delegated access in the store (ADR 0016): what a delegate records, and how a delegated
principal rests on the event store rather than on a read model that may lag."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from domain.access.delegation import TASKS_ACT, TODO_READ, DelegationRefusedError
from domain.shared.context import CommandContext
from domain.shared.errors import UnavailableError

ADMIN = CommandContext("admin:bootstrap", "setup")
OLGA = CommandContext("operator:olga", "req-olga")
CLIENT = ["oa.act_on_behalf", "flows.instances.view", "flows.tasks.handle"]


def _catch_up(c):
    for name in ("access.departments", "access.principals"):
        c.runners[name].catch_up()


def _firm(c):
    """Olga (ops, Shanghai, brokerage) and an OA client's token issued by the bootstrap token."""
    c.access.create_business_line(ADMIN, "brokerage", "Brokerage")
    dept = c.access.create_department(ADMIN, "SH", "上海营业部", "branch", None).id
    c.access.create_role(ADMIN, "ops", "ops", ["flows.instances.view", "flows.tasks.handle"])
    olga = c.access.create_operator(ADMIN, "olga", "Olga", dept, None, None, "Board-Firm-2026").id
    c.access.grant_roles(ADMIN, olga, ["ops"])
    c.access.set_business_lines(ADMIN, olga, ["brokerage"])
    c.access.set_data_scope(ADMIN, olga, [{"department_id": str(dept), "include_children": True}], [])
    issued = c.access.issue_api_token(ADMIN, "oa", [], CLIENT, ["brokerage"], None, {
        "actor": "admin:bootstrap", "operator_id": None, "roles": [], "jurisdiction": None,
        "investor_accounts": []})
    _catch_up(c)
    return olga, issued.id, c.principals.resolve(issued.token)


def test_an_event_recorded_by_a_delegate_reloads_with_both_identities(container):
    c = container
    via = CommandContext("operator:olga", "req-oa", via="api_token:0b5c")
    department = c.access.create_department(via, "BJ", "北京营业部", "branch", None).id
    c.access.rename_department(ADMIN, department, "北京分公司", None)
    first, second = c.audit.trail(department)
    assert (first.actor, first.via) == ("operator:olga", "api_token:0b5c")
    assert (second.actor, second.via) == ("admin:bootstrap", None)  # like every event stored before via existed
    assert "via" not in first.data
    reloaded = c.access.department(department)  # replayed from the store: via does not reach the aggregate
    assert reloaded.name == "北京分公司"
    stored = list(c.access.events.get(department))
    assert [e.via for e in stored] == ["api_token:0b5c", None]
    assert c.audit.verify().ok


def test_the_delegated_principal_is_the_operator_within_the_token(container):
    olga, token_id, token = _firm(container)
    container.access.grant_delegation(OLGA, olga, token_id, [TODO_READ], None)
    _catch_up(container)
    principal = container.principals.on_behalf(token, "olga", TODO_READ)
    assert (principal.actor, principal.via, principal.kind) == ("operator:olga", f"api_token:{token_id}", "delegated")
    assert principal.permissions == {"flows.instances.view", "flows.tasks.handle"}
    assert principal.business_lines == {"brokerage"} and principal.operator_id == olga
    with pytest.raises(DelegationRefusedError) as refused:
        container.principals.on_behalf(token, "olga", TASKS_ACT)
    assert refused.value.code == "delegation_scope_missing"


def test_a_grant_the_read_model_has_not_applied_is_not_trusted_either_way(container):
    olga, token_id, token = _firm(container)
    grant = container.access.grant_delegation(OLGA, olga, token_id, [TODO_READ, TASKS_ACT], None)
    with pytest.raises(UnavailableError) as lagging:  # stored, not yet applied: wait, then 503
        container.principals.on_behalf(token, "olga", TASKS_ACT)
    assert lagging.value.code == "read_model_lagging"
    _catch_up(container)
    assert container.principals.on_behalf(token, "olga", TASKS_ACT).actor == "operator:olga"
    container.access.revoke_delegation(OLGA, grant.id, "lost phone")
    with pytest.raises(UnavailableError):  # the read model still says active: the store says otherwise
        container.principals.on_behalf(token, "olga", TASKS_ACT)
    _catch_up(container)
    with pytest.raises(DelegationRefusedError) as refused:
        container.principals.on_behalf(token, "olga", TASKS_ACT)
    assert refused.value.code == "delegation_missing"


def test_granting_again_renews_the_one_grant_of_an_operator_and_client(container):
    olga, token_id, _ = _firm(container)
    first = container.access.grant_delegation(OLGA, olga, token_id, [TODO_READ], None)
    container.access.revoke_delegation(OLGA, first.id, "pause")
    until = datetime.now(timezone.utc) + timedelta(days=30)
    again = container.access.grant_delegation(OLGA, olga, token_id, [TASKS_ACT, TODO_READ], until)
    assert again.id == first.id and again.version == 3
    grant = container.access.delegation(first.id)
    assert (grant.scopes, grant.expires_at, grant.revoked) == ([TASKS_ACT, TODO_READ], until, False)
    _catch_up(container)
    row = container.access_queries.delegation(first.id)
    assert (row["scopes"], row["revoked"], row["version"]) == ([TASKS_ACT, TODO_READ], False, 3)
