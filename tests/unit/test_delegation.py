"""Delegation rules without engines (ADR 0016): grant terms, what a grant covers, the
intersection a delegated request runs with, and the endpoint allow-list."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from fastapi import FastAPI

from application.access.delegated import act_for, may_delegate
from application.access.policy import Principal
from domain.access.catalogue import ACTION_KEYS
from domain.access.delegation import (
    ACT_ON_BEHALF,
    MAX_TERM,
    DelegationGrant,
    DelegationRefusedError,
    checked_terms,
    grant_id,
    require_covers,
)
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import RuleViolationError
from interfaces.api.app import _routes
from interfaces.api.delegation import DELEGABLE

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
D1, D2 = uuid4(), uuid4()


def test_the_permission_is_in_the_catalogue():
    assert ACT_ON_BEHALF in ACTION_KEYS


def test_a_grant_lasts_at_most_a_year_and_a_year_when_no_expiry_is_given():
    assert checked_terms(["tasks.act", "todo.read", "todo.read"], None, NOW) == (["tasks.act", "todo.read"],
                                                                                  NOW + MAX_TERM)
    for scopes, until, field in (([], None, "scopes"), (["admin"], None, "scopes"),
                                 (["todo.read"], NOW - timedelta(seconds=1), "expires_at"),
                                 (["todo.read"], NOW + MAX_TERM + timedelta(seconds=1), "expires_at"),
                                 (["todo.read"], datetime(2027, 1, 1), "expires_at")):
        with pytest.raises(RuleViolationError) as refused:
            checked_terms(scopes, until, NOW)
        assert refused.value.field == field


def test_a_grant_covers_only_its_scopes_until_it_expires_or_is_revoked():
    until = NOW + timedelta(days=1)
    require_covers(["todo.read"], False, until, "todo.read", NOW, "operator:olga")
    for revoked, expires, scope, code in ((True, until, "todo.read", "delegation_missing"),
                                          (False, NOW, "todo.read", "delegation_expired"),
                                          (False, until, "tasks.act", "delegation_scope_missing")):
        with pytest.raises(DelegationRefusedError) as refused:
            require_covers(["todo.read"], revoked, expires, scope, NOW, "operator:olga")
        assert refused.value.code == code


def test_granting_the_same_terms_again_records_nothing_and_other_terms_renew():
    operator, token = uuid4(), uuid4()
    with acting_as(CommandContext("operator:olga", "c")):
        grant = DelegationGrant.grant(operator, "operator:olga", token, ["todo.read"], NOW)
        assert grant.id == grant_id(operator, token)
        grant.renew(["todo.read"], NOW)
        assert len(grant.pending_events) == 1
        grant.revoke("pause")
        grant.renew(["todo.read"], NOW)
    assert [type(e).__name__ for e in grant.pending_events] == ["Granted", "Revoked", "Renewed"]
    assert not grant.revoked


def test_a_delegated_request_runs_as_the_operator_within_the_token():
    token = Principal(actor="api_token:t", kind="api_token",
                      permissions=frozenset({ACT_ON_BEHALF, "flows.instances.view"}),
                      business_lines=frozenset({"brokerage"}), departments=frozenset({D1}),
                      investor_accounts=frozenset(), roles=frozenset({"admin"}))
    operator = Principal(actor="operator:olga", kind="operator",
                         permissions=frozenset({ACT_ON_BEHALF, "flows.instances.view", "flows.tasks.handle"}),
                         business_lines=frozenset({"brokerage", "asset"}), departments=frozenset({D1, D2}),
                         investor_accounts=frozenset({"88001234"}), roles=frozenset({"ops"}), operator_id=uuid4())
    assert may_delegate(token) and not may_delegate(operator)
    acting = act_for(token, operator, ["todo.read"])
    assert (acting.actor, acting.kind, acting.via) == ("operator:olga", "delegated", "api_token:t")
    assert acting.permissions == {"flows.instances.view"}  # never oa.act_on_behalf: no delegating onwards
    assert acting.business_lines == {"brokerage"} and acting.departments == {D1}
    assert acting.investor_accounts == frozenset() and acting.roles == {"ops"}
    assert acting.operator_id == operator.operator_id and acting.self_id == operator.operator_id
    assert acting.scopes == {"todo.read"}
    unrestricted = act_for(Principal(actor="api_token:b", kind="api_token", permissions=frozenset(
        {ACT_ON_BEHALF, "flows.tasks.handle"}), business_lines=None, departments=None), operator, ["tasks.act"])
    assert unrestricted.departments == {D1, D2} and unrestricted.investor_accounts == {"88001234"}


def test_events_of_a_delegated_context_carry_via_and_others_do_not():
    with acting_as(CommandContext("operator:olga", "c", via="api_token:t")):
        grant = DelegationGrant.grant(uuid4(), "operator:olga", uuid4(), ["todo.read"], NOW)
        grant.revoke("done")
    with acting_as(CommandContext("operator:olga", "c")):
        grant.renew(["todo.read"], NOW)
    assert [e.via for e in grant.pending_events] == ["api_token:t", "api_token:t", None]


def test_every_delegable_endpoint_exists():
    app = FastAPI()
    _routes(app)
    paths = app.openapi()["paths"]
    assert set(DELEGABLE) <= {(method.upper(), path) for path, operations in paths.items() for method in operations}
    assert all(paths[path][method.lower()]["x-delegation-scope"] == scope
               for (method, path), scope in DELEGABLE.items())
    assert {scope for scope in DELEGABLE.values()} == {"todo.read", "tasks.act"}
    assert all(scope == "todo.read" for (method, _), scope in DELEGABLE.items() if method == "GET")
