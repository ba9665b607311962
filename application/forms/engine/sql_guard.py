"""Static checks on admin-defined SQL data sources, with PostgreSQL's own parser (pglast).

A data source is one SELECT over allow-listed tables with ``:name`` parameters. Refused
before it ever runs: several statements, anything but SELECT (DDL, DML, data-modifying CTEs,
SELECT INTO, locking clauses), set-returning functions in FROM, dangerous functions (sleeping,
file and large-object access, settings, remote links, functions that run SQL text), and tables
outside the allow-list. A name is a CTE reference only where a CTE of that name is visible (earlier
siblings of a WITH, every sibling of a WITH RECURSIVE, the body of the SELECT that owns the WITH;
never a schema-qualified name), so a CTE cannot hide a table of the same name elsewhere.

The parser is the first wall, not the only one: at run time the query runs as a database role
that may SELECT only the allow-listed tables, in a read-only transaction with a statement timeout
and a row limit (infrastructure/forms/sql_source.py). ``scope_plan`` decides, from the columns
the database reports for the query, how each row is tied to the caller's data scope.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pglast
from pglast import ast
from pglast.visitors import Visitor

PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
DENIED_FUNCTION_PREFIXES = ("pg_", "lo_", "dblink", "xpath", "query_to_xml", "table_to_xml", "cursor_to_xml",
                            "database_to_xml", "schema_to_xml")
# ts_stat / ts_rewrite run SQL given as text, which the parser never sees.
DENIED_FUNCTIONS = {"set_config", "current_setting", "txid_current", "nextval", "setval", "currval",
                    "version", "inet_server_addr", "copy", "ts_stat", "ts_rewrite"}
# Columns that tie a row to the data scope (a customer's fund account, a department).
SCOPE_COLUMNS = ("fund_account", "department_id")


class UnsafeSqlError(ValueError):
    pass


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


class _Inspector(Visitor):
    def __init__(self) -> None:
        self.problems: list[str] = []

    def visit(self, ancestors, node):  # noqa: ANN001, ANN201 - pglast's visitor protocol
        if isinstance(node, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)):
            self.problems.append("only SELECT is allowed (found a data-modifying statement)")
        elif isinstance(node, ast.SelectStmt):
            if node.intoClause is not None:
                self.problems.append("SELECT INTO is not allowed")
            if node.lockingClause:
                self.problems.append("locking clauses (FOR UPDATE/SHARE) are not allowed")
        elif isinstance(node, ast.RangeFunction):
            self.problems.append("functions in FROM are not allowed")
        elif isinstance(node, ast.FuncCall):
            name = node.funcname[-1].sval.lower()
            if name in DENIED_FUNCTIONS or name.startswith(DENIED_FUNCTION_PREFIXES):
                self.problems.append(f"function {name}() is not allowed")


def _relations(node: Any, visible: frozenset[str], found: list[tuple[str | None, str | None, str]]) -> None:
    """Every relation the statement reads, with CTE names resolved by scope (see the module doc)."""
    if isinstance(node, ast.SelectStmt) and node.withClause is not None:
        ctes = list(node.withClause.ctes or ())
        names = [c.ctename for c in ctes]
        for i, cte in enumerate(ctes):
            seen = names if node.withClause.recursive else names[:i]
            _relations(cte.ctequery, visible | frozenset(seen), found)
        body = visible | frozenset(names)
        for attr in node:
            if attr != "withClause":
                _relations(getattr(node, attr), body, found)
    elif isinstance(node, ast.RangeVar):
        if node.schemaname is None and node.catalogname is None and node.relname in visible:
            return  # a reference to a visible CTE
        found.append((node.catalogname, node.schemaname, node.relname))
    elif isinstance(node, ast.Node):
        for attr in node:
            _relations(getattr(node, attr), visible, found)
    elif isinstance(node, (tuple, list)):
        for item in node:
            _relations(item, visible, found)


def check_select(sql: str, allowed_tables: set[str], *, max_length: int = 10_000) -> CheckedSql:
    if len(sql) > max_length:
        raise UnsafeSqlError(f"SQL longer than {max_length} characters")
    names: list[str] = []
    for name in PARAM.findall(sql):
        if name not in names:
            names.append(name)
    numbered = PARAM.sub(lambda m: f"${names.index(m.group(1)) + 1}", sql)
    try:
        statements = pglast.parse_sql(numbered)
    except pglast.parser.ParseError as exc:
        raise UnsafeSqlError(f"SQL does not parse: {exc}") from None
    if len(statements) != 1:
        raise UnsafeSqlError(f"exactly one statement is allowed, found {len(statements)}")
    if not isinstance(statements[0].stmt, ast.SelectStmt):
        raise UnsafeSqlError(f"only SELECT is allowed, found {type(statements[0].stmt).__name__}")
    inspector = _Inspector()
    inspector(statements)
    found: list[tuple[str | None, str | None, str]] = []
    _relations(statements[0].stmt, frozenset(), found)
    tables = {".".join(p for p in ref if p) for ref in found}
    outside = sorted(t for t in tables if not {t, f"public.{t}", t.removeprefix("public.")} & allowed_tables)
    if outside:
        inspector.problems.append(f"tables outside the allow-list: {', '.join(outside)}")
    if inspector.problems:
        raise UnsafeSqlError("; ".join(dict.fromkeys(inspector.problems)))
    psycopg_sql = PARAM.sub(lambda m: f"%({m.group(1)})s", sql.replace("%", "%%"))
    counts = Counter((schema, rel) for _, schema, rel in found)
    relations = tuple((schema, rel, n) for (schema, rel), n in sorted(counts.items(), key=str))
    return CheckedSql(sql, tuple(names), tuple(sorted(tables)), psycopg_sql, relations)


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
