"""compliance: AML person screening (人员筛查) — screening list loads (sanctions, PEP, the firm's
internal blacklist) and the screenings flows record, with their review (ADR 0020,
docs/compliance.md). Nothing here is reachable by customers: a hit stops the service without
telling them."""
from __future__ import annotations

import re

from fastapi import APIRouter

from interfaces.api.routes.compliance import lists, screenings
from interfaces.api.routes.compliance.lists import MAX_LIST_BYTES, PREFIX

MULTIPART_OVERHEAD = 64 * 1024

router = APIRouter()
for module in (lists, screenings):
    router.include_router(module.router)


def large_bodies() -> tuple[tuple[re.Pattern[str], int], ...]:
    """A list upload may exceed the JSON body limit (up to ``MAX_LIST_BYTES``)."""
    return ((re.compile(re.escape(PREFIX) + r"/lists/[a-z]+/loads$"), MAX_LIST_BYTES + MULTIPART_OVERHEAD),)
