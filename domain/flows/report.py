"""Saved reports and cockpits (报表引擎 / 管理驾驶舱, seed 001 §四): what a drag-and-drop board
saves — a report is a named specification (domain/flows/report_spec.py), a cockpit a named,
ordered set of reports. Configuration, so every change is an event (who changed a board, when)."""
from __future__ import annotations

from typing import Any

from eventsourcing.domain import event
from pydantic import ValidationError

from domain.flows.report_spec import ReportSpec
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import InvalidInputError, RuleViolationError
from domain.shared.ids import check_key, natural_id
from domain.shared.text import require_text

MAX_REPORTS = 24  # per cockpit: a board, not a warehouse


def checked_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The specification as stored: valid against the allow-lists, in its canonical form."""
    try:
        return ReportSpec.model_validate(spec).model_dump(mode="json")
    except ValidationError as exc:
        errors = [{"path": "spec." + ".".join(str(p) for p in e["loc"]) if e["loc"] else "spec",
                   "message": e["msg"]} for e in exc.errors()]
        raise InvalidInputError(f"the report specification has {len(errors)} problem(s)", errors,
                                code="invalid_report") from None


class SavedReport(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        key: str
        name: str
        spec: dict[str, Any]
        owner: str

    @event(Created)
    def __init__(self, key: str, name: str, spec: dict[str, Any], owner: str):
        self.key, self.name, self.spec, self.owner = key, name, spec, owner
        self.deleted = False

    @classmethod
    def create(cls, key: str, name: str, spec: dict[str, Any], owner: str) -> SavedReport:
        return cls._create(cls.Created, id=natural_id("flow_report", check_key(key)), key=key,
                           name=require_text(name, "name"), spec=checked_spec(spec), owner=owner)

    class Revised(LedgerAggregate.Event):
        name: str
        spec: dict[str, Any]

    def revise(self, name: str, spec: dict[str, Any]) -> None:
        name, spec = require_text(name, "name"), checked_spec(spec)
        if (name, spec) != (self.name, self.spec):
            self._revised(name=name, spec=spec)

    @event(Revised)
    def _revised(self, name: str, spec: dict[str, Any]) -> None:
        self.name, self.spec, self.deleted = name, spec, False

    class Deleted(LedgerAggregate.Event):
        pass

    def delete(self) -> None:
        if not self.deleted:
            self._deleted()

    @event(Deleted)
    def _deleted(self) -> None:
        self.deleted = True


class Cockpit(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        key: str
        name: str
        reports: list[str]
        owner: str

    @event(Created)
    def __init__(self, key: str, name: str, reports: list[str], owner: str):
        self.key, self.name, self.reports, self.owner = key, name, reports, owner
        self.deleted = False

    @classmethod
    def create(cls, key: str, name: str, reports: list[str], owner: str) -> Cockpit:
        return cls._create(cls.Created, id=natural_id("flow_cockpit", check_key(key)), key=key,
                           name=require_text(name, "name"), reports=_reports(reports), owner=owner)

    class Revised(LedgerAggregate.Event):
        name: str
        reports: list[str]

    def revise(self, name: str, reports: list[str]) -> None:
        name, reports = require_text(name, "name"), _reports(reports)
        if (name, reports) != (self.name, self.reports):
            self._revised(name=name, reports=reports)

    @event(Revised)
    def _revised(self, name: str, reports: list[str]) -> None:
        self.name, self.reports, self.deleted = name, reports, False

    class Deleted(LedgerAggregate.Event):
        pass

    def delete(self) -> None:
        if not self.deleted:
            self._deleted()

    @event(Deleted)
    def _deleted(self) -> None:
        self.deleted = True


def _reports(reports: list[str]) -> list[str]:
    if not reports or len(reports) > MAX_REPORTS or len(set(reports)) != len(reports):
        raise RuleViolationError(f"a cockpit holds 1-{MAX_REPORTS} different reports", field="reports")
    for key in reports:
        check_key(key)
    return list(reports)
