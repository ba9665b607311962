"""Acting on an operator's behalf (ADR 0016): an API token holding ``oa.act_on_behalf`` sends
``X-On-Behalf-Of: <login>`` on one of the endpoints below, and the request runs as that operator
(intersected with the token) when the operator has granted the token the scope the endpoint
needs. Every other endpoint refuses the header: deny by default, one table to review."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import Request

from application.access.delegated import may_delegate
from application.access.policy import Principal
from domain.access.delegation import TASKS_ACT, TODO_READ, DelegationRefusedError
from interfaces.bootstrap import Container

log = logging.getLogger(__name__)
HEADER = "X-On-Behalf-Of"
_FLOWS = "/api/v1/flows"
_TASK = _FLOWS + "/instances/{instance_id}/tasks/{task_id}"

# (method, route template) -> the delegation scope it needs.
DELEGABLE: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/me"): TODO_READ,
    ("GET", _FLOWS + "/todo"): TODO_READ,
    ("GET", _FLOWS + "/done"): TODO_READ,
    ("GET", _FLOWS + "/instances/{instance_id}"): TODO_READ,
    ("GET", _FLOWS + "/instances/{instance_id}/timeline"): TODO_READ,
    ("GET", _FLOWS + "/instances/{instance_id}/changes"): TODO_READ,
    ("POST", _TASK + "/approve"): TASKS_ACT,
    ("POST", _TASK + "/reject"): TASKS_ACT,
    ("POST", _TASK + "/return"): TASKS_ACT,
    ("POST", _TASK + "/transfer"): TASKS_ACT,
    ("POST", _TASK + "/take-back"): TASKS_ACT,
    ("POST", _TASK + "/delegate"): TASKS_ACT,
    ("POST", _TASK + "/claim"): TASKS_ACT,
    ("POST", _TASK + "/signers"): TASKS_ACT,
    ("POST", _TASK + "/signers/remove"): TASKS_ACT,
    ("DELETE", _TASK + "/signers/{signer}"): TASKS_ACT,
    ("PUT", _TASK + "/form"): TASKS_ACT,
    ("POST", _FLOWS + "/instances/{instance_id}/remarks"): TASKS_ACT,
    ("POST", _FLOWS + "/tasks/batch"): TASKS_ACT,
}


def on_behalf(request: Request, container: Container, token: Principal, login_name: str) -> Principal:
    """The principal of a request carrying the header: the operator as this token may act for them."""
    route = getattr(request.scope.get("route"), "path", "")
    if not may_delegate(token):
        log.warning("refusing %s on %s %s: not allowed to act on behalf", token.actor, request.method, route)
        raise DelegationRefusedError(f"only API tokens holding 'oa.act_on_behalf' may send {HEADER}",
                                     code="delegation_not_permitted")
    scope = DELEGABLE.get((request.method, route))
    if scope is None:
        log.warning("refusing %s on %s %s: not a delegable endpoint", token.actor, request.method, route)
        raise DelegationRefusedError(f"this endpoint does not take {HEADER}; see ADR 0016 for those that do",
                                     code="delegation_not_allowed_here")
    return container.principals.on_behalf(token, login_name.strip(), scope)


def declare(path: str, method: str, operation: dict[str, Any]) -> None:
    """The header in the OpenAPI document of each endpoint that takes it."""
    scope = DELEGABLE.get((method.upper(), path))
    if scope is None:
        return
    operation.setdefault("parameters", []).append({
        "name": HEADER, "in": "header", "required": False,
        "schema": {"type": "string", "maxLength": 32, "pattern": r"^[a-z][a-z0-9._\-]{2,31}$"},
        "description": f"API tokens holding `oa.act_on_behalf`: act as this operator (login name), who must have "
                       f"granted the token the `{scope}` delegation (403 `delegation_missing`, "
                       f"`delegation_expired`, `delegation_scope_missing` otherwise)."})
    operation["x-delegation-scope"] = scope
