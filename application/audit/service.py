"""audit: replay and verify the history of anything."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from uuid import UUID

from application.access.policy import SECRET_FIELDS, Policy
from application.audit.anchoring import ChainAnchoring, Verification
from application.audit.resources import AuditedResource, resource_of
from domain.access.masking import apply_rules
from domain.audit.anchors import Checkpoint
from domain.shared.errors import NotFoundError
from infrastructure.eventstore.store import EventLog

METADATA = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor",
            "correlation_id", "business_line", "via"}


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
    via: str | None = None  # the client the actor acted through (a delegation, ADR 0016)


class AuditService:
    def __init__(self, log: EventLog, anchoring: ChainAnchoring):
        self.log, self.anchoring = log, anchoring

    @staticmethod
    def _audited(aggregate_id: UUID, aggregate: Any) -> AuditedResource:
        audited = resource_of(aggregate)
        if audited is None:  # a type nobody registered has no field rules: show it to nobody
            raise NotFoundError(f"no events recorded for {aggregate_id}")
        return audited

    def _require_visible(self, aggregate_id: UUID, aggregate: Any, lines: set[str | None],
                         policy: Policy) -> AuditedResource:
        audited = self._audited(aggregate_id, aggregate)
        if audited.admin_only:  # catalogue records: auditors with an unrestricted scope
            visible = policy.principal.departments is None
        elif audited.line_only:
            visible = True  # the business-line check below decides
        else:
            visible = policy.sees(department_id=audited.department_of(aggregate),
                                  investor_account=audited.account_of(aggregate))
        if not visible or not all(policy.sees_line(line) for line in lines):
            raise NotFoundError(f"no events recorded for {aggregate_id}")
        return audited

    def trail(self, aggregate_id: UUID, policy: Policy | None = None) -> list[TrailEntry]:
        events = self.log.trail(aggregate_id)
        if not events:
            raise NotFoundError(f"no events recorded for {aggregate_id}")
        entries = self._trail(events)
        if policy is None:  # trusted callers: the CLI run by an operator of the service
            return entries
        final = None
        for _, event in events:
            final = event.mutate(final)
        audited = self._require_visible(aggregate_id, final, {e.business_line for e in entries}, policy)
        rules = policy.rules(audited.resource)
        for entry in entries:
            entry.data = apply_rules(entry.data, rules)
            shown = apply_rules({k: c["new"] for k, c in entry.changes.items()}, rules)
            was = apply_rules({k: c["old"] for k, c in entry.changes.items()}, rules)
            entry.changes = {k: {"old": was.get(k), "new": shown[k]} for k in shown}
        return entries

    def _trail(self, events: list[tuple[int, Any]]) -> list[TrailEntry]:
        entries: list[TrailEntry] = []
        aggregate: Any = None
        before: dict[str, Any] = {}
        for position, event in events:
            aggregate = event.mutate(aggregate)
            after = public_state(aggregate)
            changes = {
                k: {"old": before.get(k), "new": v}
                for k, v in after.items()
                if k not in ("id", "version", "created_on", "modified_on") and k not in SECRET_FIELDS
                and before.get(k) != v
            }
            cls = type(event)
            aggregate_type, _, event_type = cls.__qualname__.rpartition(".")
            entries.append(TrailEntry(
                position=position, version=event.originator_version, event_type=event_type,
                aggregate_type=aggregate_type, occurred_at=event.timestamp,
                actor=getattr(event, "actor", None), business_line=getattr(event, "business_line", None),
                correlation_id=getattr(event, "correlation_id", None), via=getattr(event, "via", None),
                data={k: v for k, v in vars(event).items() if k not in METADATA and k not in SECRET_FIELDS},
                changes=changes,
            ))
            before = after
        return entries

    def state_as_of(self, aggregate_id: UUID, at: datetime | None = None, version: int | None = None,
                    policy: Policy | None = None) -> dict[str, Any]:
        aggregate = None
        for _, event in self.log.trail(aggregate_id):
            too_late = at is not None and event.timestamp > at
            if too_late or (version is not None and event.originator_version > version):
                break
            aggregate = event.mutate(aggregate)
        if policy is not None:
            # Visibility follows the record as it is now, as for trails, and is decided before
            # saying whether a past state exists, so both 404s read the same.
            events = self.log.trail(aggregate_id)
            if not events:
                raise NotFoundError(f"no events recorded for {aggregate_id}")
            current = None
            for _, event in events:
                current = event.mutate(current)
            self._require_visible(aggregate_id, current, {getattr(e, "business_line", None) for _, e in events},
                                  policy)
        if aggregate is None:
            raise NotFoundError(f"no events recorded for {aggregate_id} at that time or version")
        state = public_state(aggregate)
        if policy is not None:
            state = policy.present(self._audited(aggregate_id, aggregate).resource, state)
        return {"aggregate_type": type(aggregate).__qualname__,
                "state": {k: v for k, v in state.items() if k not in SECRET_FIELDS}}

    def verify(self, progress: Any = None, *, since_checkpoint: bool = False) -> Verification:
        """The whole chain (or the part after the newest good checkpoint) and the anchored checkpoints."""
        return self.anchoring.verify(progress, since_checkpoint=since_checkpoint)

    def checkpoint(self, *, force: bool = False) -> Checkpoint | None:
        return self.anchoring.checkpoint(force=force)
