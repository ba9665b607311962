"""What the fee-rate context needs from outside: the counter's import channel, the archive, and
the flow to tell when the counter has answered."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from domain.feerates.writeback import ImportFileConflictError

__all__ = ["ArchiveTarget", "Completion", "CounterPort", "ImportArchive", "ImportFileConflictError"]

# on_complete(request_id, status, result): the flow's system task answered ("done" / "failed").
# Called at least once per result (again when a result is delivered again): it must be idempotent.
Completion = Callable[[str, str, dict[str, Any]], None]


class CounterPort(Protocol):
    """Hands an import file to a trading counter. ``put`` of the same name and content again is a
    no-op (also after the counter took the file away); other content under that name raises
    ImportFileConflictError."""

    def put(self, name: str, content: bytes) -> None: ...


@dataclass(frozen=True)
class ArchiveTarget:
    instance_id: UUID
    business_type: str
    business_line: str
    department_id: UUID | None
    fund_account: str | None


class ImportArchive(Protocol):
    def file(self, content: bytes, filename: str, media_type: str, target: ArchiveTarget) -> UUID:
        """Archive the file with the flow instance (and the customer); the new document's id."""
