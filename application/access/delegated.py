"""What a delegated request may do: the operator's rights, never more than the client's (ADR 0016).

An OA or mobile client (an API token holding ``oa.act_on_behalf``) acting for an operator who
granted it a delegation runs as that operator — their actor, so candidate and segregation rules
see the person; their roles and department, so field rules aimed at them apply — with the
permissions, business lines and data scope both hold (security.md principle 4: a token or a
delegation is worth at most what its issuer holds at the moment of use)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from uuid import UUID

from application.access.policy import Principal
from domain.access.delegation import ACT_ON_BEHALF


def token_id_of(token: Principal) -> UUID | None:
    """The API token behind a principal resolved from one (actor ``api_token:<id>``)."""
    if token.kind != "api_token" or not token.actor.startswith("api_token:"):
        return None
    return UUID(token.actor.removeprefix("api_token:"))


def may_delegate(token: Principal) -> bool:
    """Only API tokens holding the permission act for others; people act as themselves."""
    return token.kind == "api_token" and ACT_ON_BEHALF in token.permissions


def act_for(token: Principal, operator: Principal, scopes: Iterable[str]) -> Principal:
    """``operator`` as ``token`` may act for them: the intersection of both. Investor accounts
    the operator sees are kept only where the token's reach is unrestricted or lists them too:
    a record is visible by department or by account, and the intersection of two such reaches is
    not of that form, so the narrower form is taken (never wider than either)."""
    lines = operator.business_lines
    if token.business_lines is not None:
        lines = token.business_lines if lines is None else lines & token.business_lines
    departments, accounts = operator.departments, operator.investor_accounts
    if token.departments is not None:
        departments = token.departments if departments is None else departments & token.departments
        accounts = accounts & token.investor_accounts
    return replace(operator, kind="delegated",
                   permissions=(operator.permissions & token.permissions) - {ACT_ON_BEHALF},
                   business_lines=lines, departments=departments, investor_accounts=accounts,
                   scopes=frozenset(scopes), session_id=None, acting_for=None, issuer_actor=None, via=token.actor)
