"""The record of one running-instance migration (ADR 0012): who asked for what, why, and what
became of every instance. A dry run is recorded too, with the plan it reported; an applied
migration records its request first, then one result per instance and the totals.

Compliance replays it like any aggregate (audit trail); each migrated instance carries a
``Migrated`` event naming this record, so either side leads to the other."""
from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError

OUTCOMES = ("safe", "unsafe", "migrated", "conflict")


class InstanceMigration(LedgerAggregate):
    class Planned(LedgerAggregate.Created):
        definition_key: str
        business_line: str
        from_version: int
        to_version: int
        mapping: dict[str, str]
        reason: str
        dry_run: bool
        by: str
        items: list[dict[str, Any]]

    @event(Planned)
    def __init__(self, definition_key: str, business_line: str, from_version: int, to_version: int,
                 mapping: dict[str, str], reason: str, dry_run: bool, by: str, items: list[dict[str, Any]]):
        self.definition_key = definition_key
        self.business_line: str = business_line   # always one: its definition's
        self.from_version, self.to_version = from_version, to_version
        self.mapping, self.reason, self.dry_run, self.by = mapping, reason, dry_run, by
        self.items = items        # a dry run's plan, per instance; applied results are added below
        self.status = "dry_run" if dry_run else "applying"

    @classmethod
    def plan(cls, definition_key: str, business_line: str, from_version: int, to_version: int,
             mapping: dict[str, str], reason: str, *, dry_run: bool, by: str,
             items: list[dict[str, Any]] | None = None) -> InstanceMigration:
        return cls._create(cls.Planned, id=uuid4(), definition_key=definition_key, business_line=business_line,
                           from_version=from_version, to_version=to_version, mapping=mapping, reason=reason,
                           dry_run=dry_run, by=by, items=items or [])

    def record(self, item: dict[str, Any]) -> None:
        """What became of one instance: migrated (with the instance version it reached), unsafe
        (with the reasons) or conflict (it kept changing under the migration)."""
        if self.status != "applying":
            raise RuleViolationError("only a migration being applied records results")
        if item["outcome"] not in OUTCOMES[1:]:
            raise RuleViolationError(f"unknown outcome {item['outcome']!r}")
        self._instance_migrated(**item)

    class InstanceMigrated(LedgerAggregate.Event):
        instance_id: UUID
        outcome: str
        reasons: list[str]
        moves: list[dict[str, Any]]
        current_nodes: list[str]
        current_nodes_after: list[str]
        tasks_opened: list[dict[str, Any]]
        instance_version: int | None

    @event(InstanceMigrated)
    def _instance_migrated(self, instance_id: UUID, outcome: str, reasons: list[str], moves: list[dict[str, Any]],
                           current_nodes: list[str], current_nodes_after: list[str],
                           tasks_opened: list[dict[str, Any]], instance_version: int | None) -> None:
        self.items = [*self.items, {"instance_id": instance_id, "outcome": outcome, "reasons": reasons,
                                    "moves": moves, "current_nodes": current_nodes,
                                    "current_nodes_after": current_nodes_after, "tasks_opened": tasks_opened,
                                    "instance_version": instance_version}]

    def finish(self) -> None:
        counts = {outcome: sum(1 for i in self.items if i["outcome"] == outcome) for outcome in OUTCOMES[1:]}
        self._applied(**counts)

    class Applied(LedgerAggregate.Event):
        unsafe: int
        migrated: int
        conflict: int

    @event(Applied)
    def _applied(self, unsafe: int, migrated: int, conflict: int) -> None:
        self.status = "applied"
