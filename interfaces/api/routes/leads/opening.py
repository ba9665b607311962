"""Webhook of the account-opening system (开户云)."""

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from domain.leads.lead import OPENING_KINDS
from interfaces.api.deps import ContainerDep
from interfaces.api.routes.leads.common import (
    OpeningFeed,
    _leads,
)
from interfaces.api.routes.leads.schemas import (
    PerRowOutcome,
)

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


# -- account opening ------------------------------------------------------------------------------------
class OpeningEvents(BaseModel):  # rows are checked one by one (per-row results)
    events: list[dict[str, Any]] = Field(min_length=1, max_length=1000, description=(
        f"{{business_line, phone, kind: {'|'.join(OPENING_KINDS)}, at, node?, external_id?}}"))


@router.post("/account-opening/events", response_model=PerRowOutcome, response_model_exclude_unset=True,
             summary="Webhook of the account-opening system: one result per event.")
def opening_events(body: OpeningEvents, request: Request, container: ContainerDep,
                   policy: OpeningFeed) -> dict[str, Any]:
    results = []
    for i, raw in enumerate(body.events):
        line = raw.get("business_line") if isinstance(raw, dict) else None
        if isinstance(line, str) and not policy.sees_line(line):
            results.append({"index": i, "status": "rejected", "reason": f"business line {line!r} does not exist"})
            continue
        ctx = policy.context(request.state.correlation_id, line if isinstance(line, str) else None)
        results.append({"index": i, **_leads(container).apply_opening_event(ctx, raw)})
    return {"results": results, "accepted": sum(r["status"] == "accepted" for r in results)}

