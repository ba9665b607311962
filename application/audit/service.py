"""audit: replay and verify the history of anything."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.shared.errors import NotFoundError
from infrastructure.eventstore.chain import VerifyReport
from infrastructure.eventstore.store import EventLog

METADATA = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor",
            "correlation_id", "business_line"}


def public_state(aggregate: Any) -> dict[str, Any]:
    return {k.lstrip("_") if k in ("_id", "_version", "_created_on", "_modified_on") else k: v
            for k, v in vars(aggregate).items()
            if not k.startswith("_") or k in ("_id", "_version", "_created_on", "_modified_on")}


@dataclasses.dataclass
class TrailEntry:
    position: int
    version: int
    event_type: str
    aggregate_type: str
    occurred_at: datetime
    actor: str | None
    business_line: str | None
    correlation_id: str | None
    data: dict[str, Any]
    changes: dict[str, dict[str, Any]]


class AuditService:
    def __init__(self, log: EventLog):
        self.log = log

    def trail(self, aggregate_id: UUID) -> list[TrailEntry]:
        events = self.log.trail(aggregate_id)
        if not events:
            raise NotFoundError(f"no events recorded for {aggregate_id}")
        entries, aggregate, before = [], None, {}
        for position, event in events:
            aggregate = event.mutate(aggregate)
            after = public_state(aggregate)
            changes = {
                k: {"old": before.get(k), "new": v}
                for k, v in after.items()
                if k not in ("id", "version", "created_on", "modified_on") and before.get(k) != v
            }
            cls = type(event)
            aggregate_type, _, event_type = cls.__qualname__.rpartition(".")
            entries.append(TrailEntry(
                position=position, version=event.originator_version, event_type=event_type,
                aggregate_type=aggregate_type, occurred_at=event.timestamp,
                actor=getattr(event, "actor", None), business_line=getattr(event, "business_line", None),
                correlation_id=getattr(event, "correlation_id", None),
                data={k: v for k, v in vars(event).items() if k not in METADATA},
                changes=changes,
            ))
            before = after
        return entries

    def state_as_of(self, aggregate_id: UUID, at: datetime | None = None,
                    version: int | None = None) -> dict[str, Any]:
        aggregate = None
        for _, event in self.log.trail(aggregate_id):
            if (at is not None and event.timestamp > at) or (version is not None and event.originator_version > version):
                break
            aggregate = event.mutate(aggregate)
        if aggregate is None:
            when = f"at {at.isoformat()}" if at else f"at version {version}" if version else ""
            raise NotFoundError(f"{aggregate_id} has no recorded state {when}".strip())
        return {"aggregate_type": type(aggregate).__qualname__, "state": public_state(aggregate)}

    def verify(self, progress: Any = None) -> VerifyReport:
        return self.log.verify(progress)
