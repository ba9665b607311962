"""Live notifications: a server-sent-event stream per operator (text/event-stream).

The stream is woken by the projection's progress (the wake-up the read-your-writes waits use:
in-process at once, across processes through Redis), never by a timer, and then reads what is
new for the caller — one indexed query. Without Redis it falls back to a short poll. It sends a
keep-alive comment when quiet, ends when the client goes or after ``notify_stream_max_seconds``
(the browser's EventSource reconnects with ``Last-Event-ID``, so nothing is lost), and a
reconnecting client gets what it missed since that id."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from interfaces.api.deps import ContainerDep
from interfaces.api.problems import ApiProblem
from interfaces.api.routes.notifications.common import INBOX, NOT_OPERATOR, Recipient
from interfaces.api.routes.notifications.schemas import NotificationPublic
from interfaces.bootstrap import Container

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
BATCH = 100
FALLBACK_POLL_SECONDS = 0.5  # only while Redis is down (no cross-process wake-ups)
EVENT_STREAM = "text/event-stream"


def _start(container: Container, me: str, last_event_id: str | None) -> int:
    if last_event_id is None:
        return container.notification_queries.newest_position(me)  # from now on
    if not last_event_id.isdigit() or len(last_event_id) > 18:
        raise ApiProblem(400, "invalid_last_event_id", "Last-Event-ID is the id of an event this stream sent",
                         field="Last-Event-ID")
    return int(last_event_id)


async def _events(container: Container, me: str, after: int) -> AsyncIterator[str]:
    """Ends when the client goes: the response is cancelled (ASGI < 2.4) or its next write fails
    (a keep-alive at the latest)."""
    settings = container.settings
    loop, wake = asyncio.get_running_loop(), asyncio.Event()

    def moved(name: str | None) -> None:
        if name in (None, INBOX):
            loop.call_soon_threadsafe(wake.set)

    unsubscribe = container.progress.subscribe(moved)
    ends = time.monotonic() + settings.notify_stream_max_seconds
    try:
        yield f"retry: 2000\n: notifications of {me} after {after}\n\n"
        while True:
            wake.clear()  # before reading: a commit from now on wakes the wait below
            rows = await run_in_threadpool(container.notification_queries.since, me, after, BATCH)
            for row in rows:
                after = row["position"]
                data = NotificationPublic.of(row).model_dump_json()
                yield f"id: {after}\nevent: notification\ndata: {data}\n\n"
            if len(rows) == BATCH:
                continue
            remaining = ends - time.monotonic()
            if remaining <= 0:
                return
            quiet = settings.notify_stream_keepalive_seconds
            if not container.redis.available:
                quiet = min(quiet, FALLBACK_POLL_SECONDS)
            try:
                await asyncio.wait_for(wake.wait(), min(quiet, remaining))
            except TimeoutError:
                yield ": keep-alive\n\n"
    finally:
        unsubscribe()


@router.get("/stream", response_class=StreamingResponse, responses={
    **NOT_OPERATOR, 200: {"content": {EVENT_STREAM: {"schema": {"type": "string"}}}, "description": (
        "Server-sent events: `event: notification`, `id:` the notification's position, `data:` a "
        "NotificationPublic as JSON; `: keep-alive` comments while quiet.")},
    400: {"description": "`invalid_last_event_id`: Last-Event-ID is not an id this stream sent."}},
            summary="Your new notifications as they arrive (server-sent events; resumes from Last-Event-ID).")
async def stream(container: ContainerDep, me: Recipient,
                 last_event_id: Annotated[str | None, Header(description="Resume after this event id")] = None
                 ) -> StreamingResponse:
    after = await run_in_threadpool(_start, container, me, last_event_id)
    return StreamingResponse(_events(container, me, after), media_type=EVENT_STREAM,
                             headers={"X-Accel-Buffering": "no"})
