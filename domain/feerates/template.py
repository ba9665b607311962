"""The fee-rate template (费率模板): a named set of per-exchange, per-product commission and margin
rates, absolute or floating. Every revision is a new numbered version; flows use the published
one, and a write-back records which version it used, so a retry renders the same file."""
from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from domain.feerates.entries import checked_entries
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import NotFoundError, RuleViolationError
from domain.shared.ids import check_key, natural_id
from domain.shared.text import require_text


def template_id(key: str) -> Any:
    return natural_id("feerate_template", key)


class FeeRateTemplate(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        key: str
        name: str
        business_line: str
        entries: list[dict[str, Any]]
        note: str

    @event(Created)
    def __init__(self, key: str, name: str, business_line: str, entries: list[dict[str, Any]], note: str):
        self.key, self.business_line = key, business_line
        self.versions: dict[int, dict[str, Any]] = {1: {"name": name, "entries": entries, "note": note}}
        self.published: int | None = None

    @classmethod
    def create(cls, key: str, name: str, business_line: str, entries: list[dict[str, Any]],
               note: str = "") -> FeeRateTemplate:
        return cls._create(cls.Created, id=template_id(check_key(key)), key=key,
                           name=require_text(name.strip(), "name"), business_line=business_line,
                           entries=checked_entries(entries), note=require_text(note, "note", 2000))

    @property
    def latest(self) -> int:
        return max(self.versions)

    def version_of(self, number: int | None = None) -> dict[str, Any]:
        """A version by number; None = the published one (refused when none is)."""
        chosen = self.published if number is None else number
        if chosen is None:
            raise RuleViolationError(f"fee-rate template {self.key!r} has no published version", field="template")
        if chosen not in self.versions:
            raise NotFoundError(f"fee-rate template {self.key!r} has no version {chosen}", field="version")
        return self.versions[chosen]

    # -- revise -------------------------------------------------------------------------------------
    class Revised(LedgerAggregate.Event):
        number: int
        name: str
        entries: list[dict[str, Any]]
        note: str

    def revise(self, name: str, entries: list[dict[str, Any]], note: str = "") -> int:
        name, checked = require_text(name.strip(), "name"), checked_entries(entries)
        latest = self.versions[self.latest]
        if (latest["name"], latest["entries"]) == (name, checked):
            raise RuleViolationError(f"nothing changed: version {self.latest} has these rates and name")
        self._revised(number=self.latest + 1, name=name, entries=checked, note=require_text(note, "note", 2000))
        return self.latest

    @event(Revised)
    def _revised(self, number: int, name: str, entries: list[dict[str, Any]], note: str) -> None:
        self.versions = {**self.versions, number: {"name": name, "entries": entries, "note": note}}

    # -- publish ------------------------------------------------------------------------------------
    class Published(LedgerAggregate.Event):
        number: int

    def publish(self, number: int) -> None:
        self.version_of(number)
        if self.published == number:
            raise RuleViolationError(f"version {number} is already the published one", field="version")
        self._published(number=number)

    @event(Published)
    def _published(self, number: int) -> None:
        self.published = number
