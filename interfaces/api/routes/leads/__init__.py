"""leads (渠道2.0): one module per resource. The lead detail routes (``/{lead_id}``) come last so
that fixed paths (``/segments``, ``/sop-tasks``...) are never taken for a lead id."""
from __future__ import annotations

import re

from fastapi import APIRouter

from infrastructure.settings import Settings
from interfaces.api.routes.leads import (
    activity,
    analytics,
    bindings,
    channels,
    intake,
    lead_list,
    opening,
    rules,
    settings,
    sop,
)

IMPORT_PATH = re.compile(r"^/api/v1/leads/channels/[^/]+/imports$")

router = APIRouter()
for module in (channels, intake, rules, settings, bindings, sop, opening, analytics, lead_list, activity):
    router.include_router(module.router)


def large_bodies(settings: Settings) -> tuple[tuple[re.Pattern[str], int], ...]:
    """Import uploads may exceed the general body limit, up to leads_import_max_bytes."""
    return ((IMPORT_PATH, settings.leads_import_max_bytes),)
