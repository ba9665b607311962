"""flows: starting instances, the todo list, task actions, one instance's views.

``reads`` holds the lists and the instance views, ``commands`` every action; ``common`` the
permissions, paging and the visibility check they share; ``schemas`` their models."""
from __future__ import annotations

from fastapi import APIRouter

from interfaces.api.routes.flow_instances import commands, reads
from interfaces.api.routes.flow_instances.common import (
    Keyword,
    Limit,
    _iso,
    _sent_data,
    acting_on,
    present_summary,
    require_visible,
)
from interfaces.api.routes.flow_instances.schemas import NOT_FOUND, STALE, InstanceSummaryPublic, Instant

__all__ = ["NOT_FOUND", "STALE", "InstanceSummaryPublic", "Instant", "Keyword", "Limit", "_iso", "_sent_data",
           "acting_on", "present_summary", "require_visible", "router"]

router = APIRouter()
router.include_router(commands.router)
router.include_router(reads.router)
