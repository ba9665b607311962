"""How the rows of a data-source query are tied to the caller's data scope, decided from the
columns the database reports for the (already checked) query."""
from __future__ import annotations

from typing import Any

from application.forms.engine.sql_tree import UnsafeSqlError
from domain.forms.checked_sql import SCOPE_COLUMNS


def scope_plan(columns: list[dict[str, Any]], tables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How the rows of a described query are tied to a caller's data scope, or UnsafeSqlError.

    ``columns``: the query's output columns in order, ``{"name", "table", "column"}`` with the
    source table and column the database reports for each (both None for a computed column).
    ``tables``: every relation the query reads, ``{name: {"reads": n, "scoped": bool}}``; a
    relation is *scoped* (customer data) when it has a fund_account or department_id column.

    A query that reads no scoped relation needs no scope. One that does must output only table
    columns (a computed ``upper(id_number)`` would dodge the field rules), and every scoped
    relation it outputs columns of must also output one of its scope columns. A relation read
    more than once (a self-join) cannot tie its columns to one of its rows, so it may then output
    scope columns only, each checked on its own. The plan's ``checks`` are what each row must
    pass: ``policy.sees(department_id=row[d], investor_account=row[f])`` for every check.
    """
    scoped = sorted(name for name, t in tables.items() if t["scoped"])
    if not scoped:
        return {"customer_data": False, "checks": []}
    problems = []
    names = [c["name"] for c in columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        problems.append(f"output column names must be distinct (found {', '.join(duplicated)} twice)")
    computed = [c["name"] for c in columns if not c.get("table")]
    if computed:
        problems.append(f"the query reads customer data ({', '.join(scoped)}), so every output column must be a"
                        f" table column, not computed: {', '.join(computed)}")
    checks: list[dict[str, str | None]] = []
    for table in scoped:
        own = [c for c in columns if c.get("table") == table]
        if not own:
            continue
        accounts = [c["name"] for c in own if c["column"] == "fund_account"]
        departments = [c["name"] for c in own if c["column"] == "department_id"]
        if not accounts and not departments:
            problems.append(f"the rows of {table} cannot be scoped: output its fund_account or department_id")
        elif tables[table]["reads"] > 1:
            others = [c["name"] for c in own if c["column"] not in SCOPE_COLUMNS]
            if others:
                problems.append(f"{table} is read more than once, so its columns cannot be tied to one row's scope:"
                                f" {', '.join(others)}")
            checks += [{"fund_account": a, "department_id": None} for a in accounts]
            checks += [{"fund_account": None, "department_id": d} for d in departments]
        else:
            checks.append({"fund_account": accounts[0] if accounts else None,
                           "department_id": departments[0] if departments else None})
    if not checks and not problems:
        problems.append(f"the query reads customer data ({', '.join(scoped)}) but outputs no fund_account or"
                        " department_id column of it, so its rows cannot be scoped")
    if problems:
        raise UnsafeSqlError("; ".join(problems))
    return {"customer_data": True, "checks": checks}
