"""The archive context's Application: documents, automatic filing of a completed flow's
attachments, retention purges, static mounts, cloud-platform sync, regulator exports and the
integrity scan, one flat capability class each (ADR 0013). Storage and limits are given here,
once, by the composition root."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from application.archive.documents import Documents
from application.archive.exports import ExportLimits, Exports
from application.archive.filing import FlowFiling
from application.archive.integrity import Integrity
from application.archive.mount import MountLimits, Mounts
from application.archive.retention import Retention
from application.archive.sync import CloudSync
from application.shared.base import LedgerApplication
from domain.archive.content import BlobStore
from domain.archive.rules import RetentionRule
from domain.shared.ids import natural_id


class ArchiveApplication(Documents, FlowFiling, Retention, Mounts, CloudSync, Exports, Integrity,
                         LedgerApplication):
    name = "archive"

    def __init__(self, store: Any, *, blobs: BlobStore, max_file_bytes: int, mount_limits: MountLimits,
                 export_limits: ExportLimits, retention: RetentionRule | None = None,
                 customer_exists: Callable[[str], bool] | None = None):
        super().__init__(store)
        self.blobs = blobs
        self.max_file_bytes = max_file_bytes
        self.export_limits = export_limits
        self.mount_limits = mount_limits
        self.retention = retention or RetentionRule()
        self.customer_exists = customer_exists or (lambda account: self.exists(natural_id("customer", account)))
