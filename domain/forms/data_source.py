"""Data source: where a field's options or a branch's value come from (static options, the
customer directory, or an admin-defined SQL query)."""
from __future__ import annotations

import re
from typing import Any

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id

KEY = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
KINDS = ("static", "customer", "sql")


class DataSource(LedgerAggregate):
    class Defined(LedgerAggregate.Created):
        key: str
        name: str
        kind: str
        config: dict[str, Any]

    @event(Defined)
    def __init__(self, key: str, name: str, kind: str, config: dict[str, Any]):
        self.key, self.name, self.kind, self.config = key, name, kind, config

    @classmethod
    def define(cls, key: str, name: str, kind: str, config: dict[str, Any]) -> DataSource:
        if not KEY.fullmatch(key):
            raise RuleViolationError("key must be 2-48 of a-z, 0-9, '_'", field="key")
        if kind not in KINDS:
            raise RuleViolationError(f"kind must be one of {', '.join(KINDS)}", field="kind")
        return cls._create(cls.Defined, id=natural_id("data_source", key), key=key, name=name, kind=kind,
                           config=config)
