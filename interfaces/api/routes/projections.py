"""Projection status and lag."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from application.access.policy import Policy
from interfaces.api.deps import ContainerDep, requires

router = APIRouter(prefix="/api/v1/projections", tags=["operations"])


class ProjectionPublic(BaseModel):
    name: str = Field(examples=["access.departments"])
    kind: str = Field(examples=["postgres"], description="postgres (read model) or clickhouse (analytics sink)")
    position: int = Field(description="Last event position applied")
    head: int = Field(description="Last event position stored")
    lag: int = Field(description="Events stored but not yet applied")
    error: str | None = Field(None, description="Last failure of this projection's worker, if it is failing")


@router.get("", response_model=list[ProjectionPublic], summary="Every projection with its position and lag.")
def list_projections(container: ContainerDep,
                     _: Annotated[Policy, Depends(requires("ops.projections.view"))]) -> list[ProjectionPublic]:
    out = []
    for runner in container.runners.values():
        s = runner.status()
        out.append(ProjectionPublic(name=s.name, kind=s.kind, position=s.position, head=s.head, lag=s.lag,
                                    error=s.error))
    return out
