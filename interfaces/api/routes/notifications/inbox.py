"""The in-app list (站内信): newest first with keyset paging, the unread count, read marks."""
from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from domain.notifications.kinds import Kind
from interfaces.api.deps import Acting, ContainerDep, consistent_with
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.routes.notifications.common import INBOX, NOT_OPERATOR, Recipient
from interfaces.api.routes.notifications.schemas import NotificationPage, NotificationPublic, ReadAll, UnreadCount
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
READS = Depends(consistent_with(INBOX))


@router.get("", response_model=NotificationPage, dependencies=[READS], responses={**NOT_OPERATOR, **INVALID_CURSOR},
            summary="Your notifications, newest first (keyset-paged); unread only, or of one kind.")
def notifications(container: ContainerDep, me: Recipient, cursor: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  unread: Annotated[bool, Query(description="Only those not read yet")] = False,
                  kind: Kind | None = None) -> NotificationPage:
    after = typed_cursor(cursor, "int", "id")
    rows = container.notification_queries.page(me, unread=unread, kind=kind, limit=limit + 1,
                                               after=(after[0], after[1]) if after else None)
    items = [NotificationPublic.of(r) for r in rows[:limit]]
    more = len(rows) > limit
    return NotificationPage(items=items, next_cursor=encode_cursor([items[-1].position, str(items[-1].id)])
                            if more else None)


@router.get("/unread-count", response_model=UnreadCount, dependencies=[READS], responses=NOT_OPERATOR,
            summary="How many of your notifications are unread (the badge).")
def unread_count(container: ContainerDep, me: Recipient) -> UnreadCount:
    return UnreadCount(unread=container.notification_queries.unread_count(me))


@router.post("/read-all", response_model=CommandAccepted, responses=NOT_OPERATOR,
             summary="Mark everything in your list read (up to a position); what arrives later stays unread.")
def read_all(container: ContainerDep, me: Recipient, ctx: Acting, response: Response,
             body: ReadAll | None = None) -> CommandAccepted:
    return accepted(container.notifications.mark_all_read(ctx, me, body.up_to if body else None), response)


@router.post("/{notification_id}/read", response_model=CommandAccepted, responses={
    **NOT_OPERATOR, 404: {"description": "`not_found`: no such notification of yours."}},
             summary="Mark one of your notifications read (pass `position` as wait_for_position to read it back).")
def read(notification_id: UUID, container: ContainerDep, me: Recipient, ctx: Acting,
         response: Response) -> CommandAccepted:
    return accepted(container.notifications.mark_read(ctx, me, [notification_id]), response)
