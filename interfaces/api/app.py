"""The FastAPI application."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from domain.shared.errors import DomainError
from infrastructure.settings import Settings
from interfaces.api import problems
from interfaces.api.metrics import Metrics
from interfaces.api.middleware import RequestContextMiddleware
from interfaces.api.routes import (
    access_admin,
    archive,
    audit,
    auth,
    departments,
    flow_instances,
    flows,
    forms,
    health,
    leads,
    operators,
    projections,
)
from interfaces.bootstrap import Container

DESCRIPTION = """
Ledgerflow: approval flows, lead management and the image archive for futures and
securities firms. Every change is an event; reads come from projections.

* **Authentication**: `Authorization: Bearer <token>` on every endpoint except `/health` and `/ready`.
* **Errors**: `application/problem+json` with a machine-readable `code` and the offending `field`.
* **Concurrency**: reads return an `ETag`; send it back as `If-Match`. A stale write answers 409.
* **Read your writes**: commands return `position`; pass it as `wait_for_position` to a read.
* **Correlation**: send `X-Correlation-ID` to tie a request to your own logs; every event records it.
"""


def _large_bodies(settings: Settings) -> tuple:
    """Routes whose bodies may exceed the JSON limit: archive uploads and lead imports."""
    return archive.upload_limits(settings) + leads.large_bodies(settings)


def create_app(container: Container) -> FastAPI:
    """An application around a running container (tests, embedding)."""
    app = FastAPI(title="Ledgerflow API", version="0.1.0", description=DESCRIPTION)
    _routes(app)
    _attach(app, container)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=container.settings.max_body_bytes,
                       metrics=container.extras["metrics"], large_bodies=_large_bodies(container.settings),
                       authenticated=_Authenticated(app))
    return app


def create_app_from_settings(settings: Settings) -> FastAPI:
    """The served application: starts engines and workers on startup, stops them on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = Container.start(settings, workers=settings.run_workers)
        _attach(app, container)
        try:
            yield
        finally:
            container.close()

    app = FastAPI(title="Ledgerflow API", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    _routes(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes,
                       metrics=_LateMetrics(app), large_bodies=_large_bodies(settings),
                       authenticated=_Authenticated(app))
    return app


class _LateMetrics:
    """Metrics proxy for an app whose container is built in the lifespan."""

    def __init__(self, app: FastAPI):
        self.app = app

    def observe_request(self, *args: object) -> None:
        container = getattr(self.app.state, "container", None)
        if container is not None:
            container.extras["metrics"].observe_request(*args)


class _Authenticated:
    """Whether a bearer token resolves to a principal (for the body-limit middleware)."""

    def __init__(self, app: FastAPI):
        self.app = app

    def __call__(self, token: str) -> bool:
        container = getattr(self.app.state, "container", None)
        if container is None:
            return False
        try:
            container.principals.resolve(token)
        except DomainError:
            return False
        return True


def _routes(app: FastAPI) -> None:
    problems.install(app)
    routers = (health, auth, departments, operators, access_admin, forms, flows, flow_instances, audit, projections,
               archive, leads)
    for module in routers:
        app.include_router(module.router)


def _attach(app: FastAPI, container: Container) -> None:
    app.state.container = container
    container.extras.setdefault("metrics", Metrics(container))
