"""Dependencies shared by routes: the container, the authenticated caller, command context,
optimistic-concurrency headers and read-your-writes waits."""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Annotated, Callable

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.shared.context import CommandContext
from interfaces.api.problems import ApiProblem
from interfaces.bootstrap import Container


def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]

_bearer = HTTPBearer(auto_error=False, description="Bearer token (bootstrap admin token until operators exist)")


@dataclass(frozen=True)
class Principal:
    id: str
    is_admin: bool


def current_principal(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiProblem(401, "unauthenticated", "missing bearer token (Authorization: Bearer <token>)",
                         headers={"WWW-Authenticate": "Bearer"})
    expected = container.settings.bootstrap_admin_token.get_secret_value()
    if hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        return Principal(id="admin:bootstrap", is_admin=True)
    raise ApiProblem(401, "invalid_token", "the bearer token is not valid", headers={"WWW-Authenticate": "Bearer"})


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def command_context(request: Request, principal: CurrentPrincipal) -> CommandContext:
    return CommandContext(actor=principal.id, correlation_id=request.state.correlation_id)


Acting = Annotated[CommandContext, Depends(command_context)]

_VERSION = re.compile(r'^(?:W/)?"?(\d+)"?$')


def if_match(if_match: Annotated[str | None, Header(
        description='Expected aggregate version from the ETag of a previous read, e.g. `"3"`. '
                    "A stale value answers 409.")] = None) -> int | None:
    if if_match is None:
        return None
    m = _VERSION.match(if_match.strip())
    if not m:
        raise ApiProblem(400, "invalid_if_match", 'If-Match must be an ETag such as "3"', field="If-Match")
    return int(m.group(1))


ExpectedVersion = Annotated[int | None, Depends(if_match)]


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
