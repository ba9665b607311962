"""Export rules (导出规则) and the audited fact that a package was produced for a regulator."""
from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.ids import natural_id


class ExportRuleDefinition(LedgerAggregate):
    """A named, reusable export rule; each produced package is an event on it."""

    class Defined(LedgerAggregate.Created):
        key: str
        name: str
        business_line: str
        rule: dict[str, Any]

    @event(Defined)
    def __init__(self, key: str, name: str, business_line: str, rule: dict[str, Any]):
        self.key, self.name, self.business_line, self.rule = key, name, business_line, rule
        self.exports = 0

    @classmethod
    def define(cls, key: str, name: str, business_line: str, rule: dict[str, Any]) -> ExportRuleDefinition:
        return cls._create(cls.Defined, id=natural_id("archive_export_rule", key), key=key, name=name,
                           business_line=business_line, rule=rule)

    class Changed(LedgerAggregate.Event):
        name: str
        rule: dict[str, Any]

    @event(Changed)
    def change(self, name: str, rule: dict[str, Any]) -> None:
        self.name, self.rule = name, rule



class ArchiveExport(LedgerAggregate):
    """One package produced for a regulator: who produced it (the event's actor), under which
    rule, how many documents, and the SHA-256 of the zip kept in the blob store."""

    class ExportProduced(LedgerAggregate.Created):
        rule_key: str | None
        rule: dict[str, Any]
        business_line: str | None
        count: int
        zip_sha256: str
        size: int
        purpose: str
        reach: list[dict[str, Any]] | None

    @event(ExportProduced)
    def __init__(self, rule_key: str | None, rule: dict[str, Any], business_line: str | None, count: int,
                 zip_sha256: str, size: int, purpose: str, reach: list[dict[str, Any]] | None = None):
        self.rule_key, self.rule, self.business_line = rule_key, rule, business_line
        self.count, self.zip_sha256, self.size, self.purpose = count, zip_sha256, size, purpose
        # Every (business_line, department_id, fund_account) the package holds documents of; a
        # caller sees the package only if their scope covers all of them. None (packages produced
        # before this was recorded): only callers unrestricted in lines and departments.
        self.reach = reach
