"""父子流程 in an instance's detail: the parent it reports to and the children it called, each
shown only when it lies in the viewer's lines and data scope (a child starts in its parent's line,
department and fund account, so in practice both are seen or neither)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, PlainSerializer

from application.access.policy import Policy

Instant = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")]


class CallParentPublic(BaseModel):
    """The flow that called this one and waits for it."""
    instance_id: UUID
    node: str = Field(description="The parent's call node")
    definition_key: str
    title: str
    status: str


class CallChildPublic(BaseModel):
    """A child this flow called at one of its call nodes."""
    instance_id: UUID | None = Field(description="Null when the child could not start (see `problem`)")
    node: str = Field(description="The call node")
    child_flow: str
    state: Literal["waiting", "not_started", "finished", "cancelled"] = Field(
        description="The parent's side: waiting for the child, could not start it, went on with its outcome, "
                    "or stopped waiting (ended, jumped or returned) and had it terminated")
    status: str | None = Field(description="The child's own status (running, completed, rejected, ...)")
    outcome: str | None = Field(description="The child's outcome as the parent recorded it")
    problem: str | None = Field(description="Why the child could not start")
    started_at: Instant
    ended_at: Instant | None


def present_calls(policy: Policy, links: dict[str, Any]) -> dict[str, Any]:
    def seen(row: dict[str, Any]) -> bool:
        return policy.sees(business_line=row["business_line"], department_id=row["department_id"],
                           investor_account=row["fund_account"])

    parent = links["parent"]
    return {"parent": CallParentPublic(**parent) if parent and seen(parent) else None,
            "children": [CallChildPublic(**c) for c in links["children"] if c["instance_id"] is None or seen(c)]}
