"""The FastAPI application."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from domain.shared.errors import DomainError
from infrastructure.settings import Settings
from interfaces.api import delegation, idempotency, problems
from interfaces.api.idempotency.middleware import IdempotencyMiddleware
from interfaces.api.metrics import Metrics
from interfaces.api.middleware import RequestContextMiddleware
from interfaces.api.routes import (
    access_admin,
    agreements,
    agreements_templates,
    archive,
    audit,
    auth,
    calendar,
    compliance,
    delegations,
    departments,
    feerates,
    feerates_writebacks,
    flow_instances,
    flow_migrations,
    flow_monitor,
    flow_overrides,
    flow_statistics,
    flows,
    forms,
    health,
    leads,
    notification_deliveries,
    notifications,
    operators,
    privacy,
    projections,
    signatures,
    signatures_public,
)
from interfaces.api.routes import flow_reports as saved_reports
from interfaces.api.routes.flow_statistics import reports as flow_reports
from interfaces.bootstrap import Container

DESCRIPTION = """
Ledgerflow: approval flows, lead management and the image archive for futures and
securities firms. Every change is an event; reads come from projections.

* **Authentication**: `Authorization: Bearer <token>` on every endpoint except `/health`, `/ready` and the
  signer's one-time links under `/api/v1/sign/` (the link is the credential).
* **Errors**: `application/problem+json` with a machine-readable `code` and the offending `field`.
* **Concurrency**: reads return an `ETag`; send it back as `If-Match`. A stale write answers 409.
* **Read your writes**: commands return `position`; pass it as `wait_for_position` to a read.
* **Correlation**: send `X-Correlation-ID` to tie a request to your own logs; every event records it.
* **Retries**: send `Idempotency-Key: <a UUID>` on a command; a retry with the same key gets the first answer
  (`Idempotent-Replayed: true`) instead of doing the work twice (docs/api.md, "Retries and Idempotency-Key").
"""


def _large_bodies(settings: Settings) -> tuple:
    """Routes whose bodies may exceed the JSON limit: archive uploads and lead imports."""
    return archive.upload_limits(settings) + leads.large_bodies(settings) + compliance.large_bodies()


def create_app(container: Container) -> FastAPI:
    """An application around a running container (tests, embedding)."""
    app = FastAPI(title="Ledgerflow API", version="0.1.0", description=DESCRIPTION)
    _routes(app)
    _attach(app, container)
    _middleware(app, container.settings, container.extras["metrics"])
    return app


def _middleware(app: FastAPI, settings: Settings, metrics: object) -> None:
    # Added first, so it runs inside the request-context middleware (bounded body, ids, headers).
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics,
                       large_bodies=_large_bodies(settings), authenticated=_Authenticated(app),
                       hsts_seconds=settings.hsts_seconds)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        # Off unless UI origins are listed: browsers elsewhere cannot call the API with a token.
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "If-Match", "X-Correlation-ID",
                                          delegation.HEADER, idempotency.HEADER],
                           expose_headers=["ETag", "Location", "Retry-After", "X-Event-Position", "X-Request-ID",
                                           "X-Correlation-ID", idempotency.REPLAYED], max_age=600)


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
    _middleware(app, settings, _LateMetrics(app))
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
    idempotency.install(app)
    routers = (health, auth, departments, operators, access_admin, delegations, calendar, forms, flows, flow_monitor,
               flow_statistics, flow_reports, saved_reports, flow_instances, flow_overrides, flow_migrations, audit,
               projections, archive, leads, notifications, notification_deliveries,
               agreements_templates, agreements,
               signatures, signatures_public,  # e-signature (ADR 0022)
               compliance, feerates, feerates_writebacks,
               privacy)  # erasure (ADR 0028)
    for module in routers:
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the problem+json answers each operation can really give
    (derived from what it takes: credentials, path parameters, a body, paging, waits)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            idempotency.declare(path, method, operation)
            _declare_problems(path, method, operation)
            delegation.declare(path, method, operation)
    app.openapi_schema = schema
    return schema


def _declare_problems(path: str, method: str, operation: dict[str, Any]) -> None:
    params = {p.get("name", "").lower() for p in operation.get("parameters", [])}
    authenticated = bool(operation.get("security"))
    statuses = {422, 503}
    if authenticated:
        statuses |= {401, 403, 404, 429}
    if "{" in path:
        statuses.add(404)
    if params & {"cursor", "if-match", "wait_for_position", "idempotency-key"} or "requestBody" in operation:
        statuses.add(400)
    if "wait_for_position" in params:
        statuses.add(504)
    if "requestBody" in operation:
        statuses |= {413, 415}
    if method != "get":
        statuses.add(409)
    if path == "/api/v1/auth/login" or path == "/api/v1/auth/refresh":
        statuses |= {401, 429}
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        entry = responses.setdefault(str(status), {"description": problems.STATUS_MEANING[status]})
        entry["content"] = {problems.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _attach(app: FastAPI, container: Container) -> None:
    app.state.container = container
    container.extras.setdefault("metrics", Metrics(container))
