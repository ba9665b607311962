"""What a checked data-source query is, as the runner (infrastructure/forms/sql_source.py) takes
it: the SQL with its ``:name`` parameters, the caller's row scope, and the error a run stops
with. The checks that produce a ``CheckedSql`` live in application/forms/engine/sql_guard.py."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from uuid import UUID

PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")

SCOPE_COLUMNS = ("fund_account", "department_id")


class DataSourceLimitError(RuntimeError):
    """A data source was stopped at run time: timeout, row limit, write attempt, bad parameters."""


@dataclass(frozen=True)
class CheckedSql:
    source: str
    params: tuple[str, ...]        # parameter names in order of first use
    tables: tuple[str, ...]
    psycopg_sql: str               # :name -> %(name)s, literal % escaped
    # (schema or None, relation, how many times the query reads it), for the database to resolve.
    relations: tuple[tuple[str | None, str, int], ...] = ()


@dataclass(frozen=True)
class RowScope:
    """Which customer rows a data-source query may read, as plain data for the runner (and the
    row-level security policy): every row, or those of ``departments`` and ``accounts``."""
    all: bool
    departments: tuple[UUID, ...] = field(default=())
    accounts: tuple[str, ...] = field(default=())

    @staticmethod
    def everything() -> RowScope:
        return RowScope(True)

    @staticmethod
    def nothing() -> RowScope:
        return RowScope(False)
