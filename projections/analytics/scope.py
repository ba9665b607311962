"""Whose facts a statistic or report may count: the one condition every flow analytics query
carries in its WHERE (the statistics API and the report engine alike), with its parameters.

A caller sees the facts of their business lines (never "all": an empty list is refused) and of
their data-scope departments (None: every department). A fact without a department is then
hidden from a department-scoped caller, as ``Policy.sees`` hides such records; grants through
investor accounts reach no figures, since facts carry no account."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CONDITION = ("has({lines:Array(String)}, business_line)"
             " AND ({all_departments:Bool}"
             " OR has({departments:Array(String)}, ifNull(toString(department_id), '')))")


@dataclass(frozen=True)
class Scope:
    """The caller's data scope: business lines (never empty) and departments (None: all)."""
    business_lines: Sequence[str]
    departments: Sequence[str] | None

    def __post_init__(self) -> None:
        if not self.business_lines:
            raise ValueError("flow analytics need the caller's business lines (an empty list would mean none)")

    def params(self) -> dict[str, Any]:
        return {"lines": list(self.business_lines), "all_departments": self.departments is None,
                "departments": list(self.departments or ())}
