"""archive: documents per customer/account and per business (影像资料管理), content download and
preview, exports for regulators, bulk intake (static mount, cloud sync). One module per resource.
The upload endpoint is also the third-party archive API when called with an API token holding
``archive.documents.upload``."""
from __future__ import annotations

import re

from fastapi import APIRouter

from infrastructure.settings import Settings
from interfaces.api.routes.archive import browse, content, documents, exports, mount, sync
from interfaces.api.routes.archive.common import PREFIX

MULTIPART_OVERHEAD = 64 * 1024

router = APIRouter()
for module in (documents, content, browse, exports, sync, mount):
    router.include_router(module.router)


def upload_limits(settings: Settings) -> tuple[tuple[re.Pattern[str], int], ...]:
    """Archive routes take files: their request bodies may reach the file limit (plus the
    multipart envelope); everything else keeps the small JSON limit."""
    limit = max(settings.max_body_bytes, settings.archive_max_file_bytes + MULTIPART_OVERHEAD)
    bulk = max(limit, settings.archive_mount_max_total_bytes + MULTIPART_OVERHEAD)
    return tuple((re.compile(re.escape(f"{PREFIX}{path}")), size)
                 for path, size in (("/documents", limit), ("/mounts", bulk), ("/sync/batches", bulk)))
