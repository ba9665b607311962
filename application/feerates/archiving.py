"""The import file archived with the flow instance and under the customer, through the archive
context's own upload (the same checks and events as any document)."""
from __future__ import annotations

from uuid import UUID

from application.archive.filing import Filing
from application.archive.service import ArchiveApplication
from application.feerates.ports import ArchiveTarget
from domain.shared.context import current_context

CATEGORY = "counter_import"


class ArchivedImportFiles:
    def __init__(self, archive: ArchiveApplication):
        self.archive = archive

    def file(self, content: bytes, filename: str, media_type: str, target: ArchiveTarget) -> UUID:
        filing = Filing(customer=target.fund_account, fund_account=target.fund_account,
                        business_line=target.business_line, department_id=target.department_id,
                        business_type=target.business_type, flow_instance=target.instance_id, category=CATEGORY)
        uploaded = self.archive.upload(current_context(), [content], filename=filename, declared_type=media_type,
                                       generated_type=media_type, filing=filing, source="system:feerates")
        return uploaded.result.id
