"""External deliveries of notifications (ADR 0015, docs/notification-delivery.md): the dead-letter
list — deliveries given up after their last attempt (``dead``) or interrupted where sending
again could deliver twice (``in_doubt``, e-mail) — and putting one back to be sent."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.notifications.delivery import DEAD_LETTERS, ChannelName, OutboxRow, Status
from interfaces.api.deps import ContainerDep, requires
from interfaces.api.pagination import encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.schemas import Page

router = APIRouter(prefix="/api/v1/notification-deliveries", tags=["notifications"])
Viewer = Annotated[Policy, Depends(requires("notifications.deliveries.view"))]
Manager = Annotated[Policy, Depends(requires("notifications.deliveries.manage"))]
Key = Annotated[str, Path(min_length=1, max_length=400, description="The delivery's key: "
                          "`{event id}:{event version}:{recipient}:{channel}`",
                          examples=["0b7e6c1e-6a55-5a43-9d7e-2f0c2b1c9a10:3:operator:wang.fang:sms"])]


class DeliveryPublic(BaseModel):
    key: str = Field(description="Idempotency key, also sent to the gateway (request_id, Idempotency-Key)")
    notification_id: UUID
    recipient: str = Field(examples=["operator:wang.fang"])
    channel: ChannelName
    kind: str = Field(examples=["task_arrived"])
    subject: str
    status: Status = Field(description="pending, sending, sent, failed (waiting to retry), dead (given up), "
                                       "in_doubt (interrupted; it may have arrived)")
    attempts: int
    next_attempt_at: datetime = Field(description="When it is next due (while sending: when its lease ends)")
    last_error: str | None = Field(description="Why the last attempt failed (addresses redacted)")
    created_at: datetime
    sent_at: datetime | None


class DeliveryPage(Page):
    items: list[DeliveryPublic]


class DeliveryCount(BaseModel):
    channel: ChannelName
    status: Status
    count: int


def _public(row: OutboxRow) -> DeliveryPublic:
    return DeliveryPublic(key=row.key, notification_id=row.notification_id, recipient=row.recipient,
                          channel=row.channel, kind=row.kind, subject=row.subject, status=row.status,
                          attempts=row.attempts, next_attempt_at=row.next_attempt_at, last_error=row.last_error,
                          created_at=row.created_at, sent_at=row.sent_at)


@router.get("", response_model=DeliveryPage,
            summary="Deliveries by status (default: the dead-letter list, dead and in_doubt), newest first, "
                    "keyset-paginated.")
def list_deliveries(container: ContainerDep, _: Viewer,
                    status: Annotated[list[Status] | None, Query(max_length=6, description="Repeatable; default "
                                                                 "dead and in_doubt")] = None,
                    channel: ChannelName | None = None, cursor: Annotated[str | None, Query(max_length=1024)] = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50) -> DeliveryPage:
    after = typed_cursor(cursor, "at!", "text")
    rows = container.notification_deliveries.dead_letters(
        statuses=tuple(dict.fromkeys(status or DEAD_LETTERS)), channel=channel,
        after=(after[0], after[1]) if after else None, limit=limit + 1)
    items = [_public(r) for r in rows[:limit]]
    more = len(rows) > limit
    return DeliveryPage(items=items, next_cursor=encode_cursor([items[-1].created_at.isoformat(), items[-1].key])
                        if more else None)


@router.get("/counts", response_model=list[DeliveryCount], summary="How many deliveries each channel has in "
                                                                   "each status.")
def delivery_counts(container: ContainerDep, _: Viewer) -> list[DeliveryCount]:
    counts = container.notification_deliveries.counts()
    return [DeliveryCount.model_validate({"channel": c, "status": s, "count": n})
            for (c, s), n in sorted(counts.items())]


NOT_FOUND: Responses = {404: {"description": "`not_found`: no delivery has that key."}}


@router.get("/{key}", response_model=DeliveryPublic, summary="One delivery.", responses=NOT_FOUND)
def get_delivery(key: Key, container: ContainerDep, _: Viewer) -> DeliveryPublic:
    return _public(container.notification_deliveries.get(key))


@router.post("/{key}/retry", response_model=DeliveryPublic,
             summary="Send a dead, in-doubt or failed delivery again: back to pending, due now, attempts counted "
                     "afresh. An in-doubt e-mail may have arrived already.",
             responses={**NOT_FOUND, 409: {"description": "`conflict`: the delivery is pending, sending or sent."}})
def retry_delivery(key: Key, container: ContainerDep, policy: Manager) -> DeliveryPublic:
    return _public(container.notification_deliveries.retry(key, by=policy.principal.actor))
