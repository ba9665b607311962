"""Cloud-platform sync batch (云平台影像自动同步 + 自动检查异常): one batch imported from the
monitoring centre's cloud platform, with the anomalies its check found and how each was
resolved."""
from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import NotFoundError, RuleViolationError
from domain.shared.ids import natural_id

ANOMALIES = ("hash_mismatch", "missing_file", "unknown_customer", "duplicate", "rejected_content")
RESOLUTIONS = ("dismissed", "fixed_at_source", "imported_manually")


class SyncBatch(LedgerAggregate):
    @event("Imported")
    def __init__(self, batch_id: str, source: str, business_line: str, entries: list[dict[str, Any]]):
        self.batch_id, self.source, self.business_line = batch_id, source, business_line
        self.entries = entries   # [{index, file, status: imported|anomaly, document_id?, anomaly?, detail?}]
        self.resolved: dict[str, dict[str, Any]] = {}

    @classmethod
    def record(cls, batch_id: str, source: str, business_line: str, entries: list[dict[str, Any]]) -> SyncBatch:
        return cls._create(cls.Imported, id=natural_id("archive_sync_batch", batch_id), batch_id=batch_id,
                           source=source, business_line=business_line, entries=entries)

    def resolve(self, index: int, resolution: str, note: str) -> None:
        entry = next((e for e in self.entries if e["index"] == index and e["status"] == "anomaly"), None)
        if entry is None:
            raise NotFoundError(f"batch {self.batch_id} has no anomaly #{index}")
        if str(index) in self.resolved:
            raise RuleViolationError(f"anomaly #{index} is already resolved")
        if resolution not in RESOLUTIONS:
            raise RuleViolationError(f"resolution is one of {', '.join(RESOLUTIONS)}", field="resolution")
        self._resolved(index=index, resolution=resolution, note=note)

    @event("AnomalyResolved")
    def _resolved(self, index: int, resolution: str, note: str) -> None:
        self.resolved = {**self.resolved, str(index): {"resolution": resolution, "note": note}}
