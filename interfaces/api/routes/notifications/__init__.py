"""notifications (站内信, ADR 0015): your list, its unread count and read marks, the live stream,
and your preferences. Every signed-in operator reads their own; nobody reads another's."""
from __future__ import annotations

from fastapi import APIRouter

from interfaces.api.routes.notifications import inbox, preferences, stream

router = APIRouter()
for module in (preferences, stream, inbox):
    router.include_router(module.router)
