"""Cloud-platform sync batch (云平台影像自动同步 + 自动检查异常): one batch imported from the
monitoring centre's cloud platform, with the anomalies its check found and how each was
resolved."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import NotFoundError, RuleViolationError
from domain.shared.ids import natural_id

ANOMALIES = ("hash_mismatch", "missing_file", "unknown_customer", "duplicate", "rejected_content")
RESOLUTIONS = ("dismissed", "fixed_at_source", "imported_manually")


class SyncBatchClaim(LedgerAggregate):
    """Reserves a batch id before any file of the batch is imported, so two concurrent imports
    of the same batch cannot both create documents: the second one's claim is a 409."""

    class Claimed(LedgerAggregate.Created):
        batch_id: str
        business_line: str

    @event(Claimed)
    def __init__(self, batch_id: str, business_line: str):
        self.batch_id, self.business_line = batch_id, business_line

    @classmethod
    def claim(cls, batch_id: str, business_line: str) -> SyncBatchClaim:
        return cls._create(cls.Claimed, id=natural_id("archive_sync_claim", batch_id), batch_id=batch_id,
                           business_line=business_line)


class SyncBatch(LedgerAggregate):
    class Imported(LedgerAggregate.Created):
        batch_id: str
        source: str
        business_line: str
        entries: list[dict[str, Any]]
        department_id: UUID | None

    @event(Imported)
    def __init__(self, batch_id: str, source: str, business_line: str, entries: list[dict[str, Any]],
                 department_id: UUID | None = None):
        self.batch_id, self.source, self.business_line = batch_id, source, business_line
        self.department_id = department_id   # the importer's department: the batch's data scope
        self.entries = entries   # [{index, file, status: imported|anomaly, document_id?, anomaly?, detail?}]
        self.resolved: dict[str, dict[str, Any]] = {}

    @classmethod
    def record(cls, batch_id: str, source: str, business_line: str, entries: list[dict[str, Any]],
               department_id: UUID | None = None) -> SyncBatch:
        return cls._create(cls.Imported, id=natural_id("archive_sync_batch", batch_id), batch_id=batch_id,
                           source=source, business_line=business_line, entries=entries, department_id=department_id)

    def resolve(self, index: int, resolution: str, note: str) -> None:
        entry = next((e for e in self.entries if e["index"] == index and e["status"] == "anomaly"), None)
        if entry is None:
            raise NotFoundError(f"batch {self.batch_id} has no anomaly #{index}")
        if str(index) in self.resolved:
            raise RuleViolationError(f"anomaly #{index} is already resolved")
        if resolution not in RESOLUTIONS:
            raise RuleViolationError(f"resolution is one of {', '.join(RESOLUTIONS)}", field="resolution")
        self._resolved(index=index, resolution=resolution, note=note)

    class AnomalyResolved(LedgerAggregate.Event):
        index: int
        resolution: str
        note: str

    @event(AnomalyResolved)
    def _resolved(self, index: int, resolution: str, note: str) -> None:
        self.resolved = {**self.resolved, str(index): {"resolution": resolution, "note": note}}
