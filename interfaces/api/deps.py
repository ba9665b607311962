"""Dependencies shared by routes: the container, the caller's policy, command context,
optimistic-concurrency headers and read-your-writes waits."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from application.access.policy import Policy, Principal
from domain.shared.context import CommandContext
from domain.shared.errors import AuthenticationError
from infrastructure.redis.throttle import Rule
from interfaces.api import delegation, idempotency
from interfaces.api.problems import ApiProblem
from interfaces.bootstrap import Container

log = logging.getLogger(__name__)

# The read models authentication and authorisation read (ADR 0006).
ACCESS_PROJECTIONS = ("access.departments", "access.principals")


def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login, an API token, "
                                                   "or the bootstrap admin token")


def login_rule(container: Container) -> Rule:
    return Rule("login", container.settings.login_free_failures)


def address_rule(container: Container) -> Rule:
    return Rule("addr", container.settings.address_free_failures)


def current_principal(
    request: Request,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiProblem(401, "unauthenticated", "missing bearer token (Authorization: Bearer <token>)",
                         headers={"WWW-Authenticate": "Bearer"})
    # Guessing tokens is throttled per client address like guessing passwords. Only failures
    # are held back: a valid token from the same address (an office behind one NAT) still works.
    address = [(address_rule(container), request.client.host if request.client else "unknown")]
    try:
        principal = container.principals.resolve(credentials.credentials)
    except AuthenticationError as exc:
        if exc.code == "invalid_token":
            wait = container.throttle.retry_after(address)
            if wait:
                raise ApiProblem(429, "too_many_attempts", f"too many invalid tokens; retry in {wait} s",
                                 headers={"Retry-After": str(wait)}) from None
            container.throttle.fail(address)
        raise
    authenticated = principal.actor  # a delegated request's key belongs to the token that sent it
    on_behalf_of = request.headers.get(delegation.HEADER)
    if on_behalf_of is not None:
        request.state.actor = principal.actor  # the access log names the token when it is refused
        principal = delegation.on_behalf(request, container, principal, on_behalf_of)
        request.state.via = principal.via
    request.state.actor = principal.actor
    idempotency.own(authenticated)  # a retry is answered after the route's authorisation (requires)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def current_policy(container: ContainerDep, principal: CurrentPrincipal) -> Policy:
    return Policy(principal, container.access_queries.field_rules)


CurrentPolicy = Annotated[Policy, Depends(current_policy)]


def requires(action: str) -> Callable[..., Policy]:
    """Dependency: the caller's policy, after checking it grants ``action``."""

    def check(request: Request, policy: CurrentPolicy) -> Policy:
        policy.require(action)
        idempotency.answer_retry(request)  # only now: a revoked permission gets its 403, not the kept answer
        return policy

    return check


def command_context(request: Request, policy: CurrentPolicy) -> CommandContext:
    return policy.context(request.state.correlation_id)


Acting = Annotated[CommandContext, Depends(command_context)]

_VERSION = re.compile(r'^(?:W/)?"?([0-9]{1,10})"?$')


def if_match(if_match: Annotated[str | None, Header(
        description='Expected aggregate version from the ETag of a previous read, e.g. `"3"`. '
                    "A stale value answers 409.")] = None) -> int | None:
    if if_match is None:
        return None
    m = _VERSION.match(if_match.strip())
    if not m:
        raise ApiProblem(400, "invalid_if_match", 'If-Match must be an ETag such as "3" (at most 10 digits)',
                         field="If-Match")
    return int(m.group(1))


ExpectedVersion = Annotated[int | None, Depends(if_match)]


def security_barrier(container: Container, position: int) -> None:
    """Return only once authentication sees this change: a disabled operator or a revoked
    token must fail on the very next request, from any API process."""
    timeout = container.settings.read_wait_max_seconds
    if not container.progress.wait_for(list(ACCESS_PROJECTIONS), position, timeout):
        log.warning("access read models did not reach position %d within %.0fs", position, timeout)
        raise ApiProblem(503, "read_model_lagging", "the change is recorded but not yet effective; "
                         "authorisation read models are lagging", headers={"Retry-After": "1"})


def consistent_with(*projections: str) -> Callable[..., None]:
    """Dependency for read endpoints: wait until the named read models reach a position."""

    def wait(
        container: ContainerDep,
        wait_for_position: Annotated[int | None, Query(
            ge=0, description="Answer only once the read model has applied this event position "
                              "(the `position` a command returned).")] = None,
        wait_timeout: Annotated[float, Query(gt=0, le=60, description="Seconds to wait at most.")] = 5.0,
    ) -> None:
        if wait_for_position is None:
            return
        head = container.store.head()
        if wait_for_position > head:
            raise ApiProblem(400, "position_out_of_range",
                             f"position {wait_for_position} is beyond the last event ({head})",
                             field="wait_for_position")
        timeout = min(wait_timeout, container.settings.read_wait_max_seconds)
        if not container.progress.wait_for(list(projections), wait_for_position, timeout):
            raise ApiProblem(504, "read_model_lagging",
                             f"read model did not reach position {wait_for_position} within {timeout:g}s",
                             field="wait_for_position", headers={"Retry-After": "1"})

    return wait
