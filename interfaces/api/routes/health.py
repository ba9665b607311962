"""Liveness, readiness and metrics."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from application.access.policy import Policy
from interfaces.api.deps import ContainerDep, requires

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/health", response_model=Health, summary="Liveness: the process answers (no authentication).")
def health() -> Health:
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, summary="Readiness of PostgreSQL, Redis and ClickHouse, each checked.",
            responses={503: {"description": "At least one engine is down; see `checks`."}})
async def ready(request: Request, response: Response) -> Readiness:
    # The states the engine watches keep (ADR 0026), read on the event loop (no sync dependency
    # either: those run on a worker thread): readiness answers at once, under load and during
    # an outage, instead of queueing for a thread or a connection behind the requests it judges.
    container = request.app.state.container
    checks = {"postgres": container.store.health.describe(), "redis": container.redis.health.describe(),
              "clickhouse": container.clickhouse.health.describe()}
    # Redis holds only derived state: the service keeps working without it, degraded.
    status = "ok" if all(v == "ok" for v in checks.values()) else (
        "degraded" if checks["postgres"] == "ok" and checks["clickhouse"] == "ok" else "down")
    if status != "ok":
        response.status_code = 503
    return Readiness(status=status, checks=checks)


@router.get("/metrics", summary="Prometheus metrics (bearer token required).",
            response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(container: ContainerDep, _: Annotated[Policy, Depends(requires("ops.metrics.view"))]) -> Response:
    return Response(container.extras["metrics"].render(), media_type="text/plain; version=0.0.4")
