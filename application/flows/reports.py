"""Saved reports and cockpits (domain/flows/report.py): a designer's boards, saved under a key.
Saving creates the report or revises it (optimistic concurrency with the version read); a cockpit
names saved reports, which must exist when it is saved."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from application.shared.base import CommandResult, LedgerApplication, command
from domain.flows.report import Cockpit, SavedReport
from domain.shared.aggregate import LedgerAggregate
from domain.shared.context import current_context
from domain.shared.errors import NotFoundError
from domain.shared.ids import natural_id

A = TypeVar("A", SavedReport, Cockpit)


class FlowReportsApplication(LedgerApplication):
    name = "flow_reports"

    def report(self, key: str) -> SavedReport:
        return self._live(natural_id("flow_report", key), SavedReport, f"report {key!r}")

    def cockpit(self, key: str) -> Cockpit:
        return self._live(natural_id("flow_cockpit", key), Cockpit, f"cockpit {key!r}")

    def board(self, key: str) -> SavedReport:
        """A report as a cockpit names it: deleted ones too (the board then shows as empty)."""
        return self.load(natural_id("flow_report", key), SavedReport, what=f"report {key!r}")

    def _live(self, aggregate_id: Any, kind: type[A], what: str, expected_version: int | None = None) -> A:
        found = self.load(aggregate_id, kind, expected_version=expected_version, what=what)
        if found.deleted and expected_version is None:
            raise NotFoundError(f"{what} does not exist")
        return found

    @command
    def save_report(self, key: str, name: str, spec: dict[str, Any], expected_version: int | None
                    ) -> CommandResult:
        return self._save(natural_id("flow_report", key), SavedReport, f"report {key!r}", expected_version,
                          lambda: SavedReport.create(key, name, spec, current_context().actor),
                          lambda report: report.revise(name, spec))

    @command
    def delete_report(self, key: str, expected_version: int | None) -> CommandResult:
        return self._delete(self._live(natural_id("flow_report", key), SavedReport, f"report {key!r}",
                                       expected_version))

    @command
    def save_cockpit(self, key: str, name: str, reports: list[str], expected_version: int | None) -> CommandResult:
        for report in reports:  # every board on it exists now (a later deletion shows as a missing board)
            try:
                self.report(report)
            except NotFoundError:
                raise NotFoundError(f"report {report!r} does not exist", field="reports") from None
        return self._save(natural_id("flow_cockpit", key), Cockpit, f"cockpit {key!r}", expected_version,
                          lambda: Cockpit.create(key, name, reports, current_context().actor),
                          lambda cockpit: cockpit.revise(name, reports))

    def _save(self, aggregate_id: Any, kind: type[A], what: str, expected_version: int | None,
              create: Callable[[], A], revise: Callable[[A], None]) -> CommandResult:
        """Create under the key, or revise what is there (at the version read, when one is given)."""
        if expected_version is None and not self.exists(aggregate_id):
            return self.create_unique(create(), what)
        found = self.load(aggregate_id, kind, expected_version=expected_version, what=what)
        revise(found)
        return self.save_one(found)

    @command
    def delete_cockpit(self, key: str, expected_version: int | None) -> CommandResult:
        return self._delete(self._live(natural_id("flow_cockpit", key), Cockpit, f"cockpit {key!r}",
                                       expected_version))

    def _delete(self, aggregate: SavedReport | Cockpit) -> CommandResult:
        aggregate.delete()
        saved: LedgerAggregate = aggregate
        return self.save_one(saved)
