"""Liveness, readiness and metrics."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from interfaces.api.deps import ContainerDep, requires

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
    # Not a failed check: the old tables serve until the switch (ADR 0029).
    rebuilding: dict[str, str] = Field(default_factory=dict, description="Projections being rebuilt blue/green"
                                                                        " by this release, with their progress")


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
    return Readiness(status=status, checks=checks, rebuilding=_rebuilding(container) if status == "ok" else {})


def _rebuilding(container: ContainerDep) -> dict[str, str]:
    """What this process's workers know, from memory (readiness asks no engine for it): the
    projections found built by an older version at start, until their rebuild switches in."""
    if container.workers is None:
        return {}  # an API-only process: GET /api/v1/projections shows every rebuild
    out = {}
    for runner in container.runners.values():
        if not runner.needs_rebuild:
            continue
        rebuild = container.workers.rebuilds.get(runner.name)
        done = f"{100 * rebuild.position / rebuild.head:.0f}%" if rebuild is not None and rebuild.head else "waiting"
        out[runner.name] = f"version {runner.projection.version} building ({done}); the older tables serve"
    return out


@router.get("/metrics", summary="Prometheus metrics (bearer token required).",
            response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(container: ContainerDep, _: Annotated[Policy, Depends(requires("ops.metrics.view"))]) -> Response:
    return Response(container.extras["metrics"].render(), media_type="text/plain; version=0.0.4")
