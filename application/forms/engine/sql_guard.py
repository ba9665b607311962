"""Static checks on admin-defined SQL data sources, with PostgreSQL's own parser (pglast).

A data source is one SELECT over allow-listed tables with ``:name`` parameters. Refused
before it ever runs: several statements, anything but SELECT (DDL, DML, data-modifying CTEs,
SELECT INTO, locking clauses), functions in FROM, every function not on ``ALLOWED_FUNCTIONS``
(sql_allowlist.py: common string, numeric, date/time, JSON-building, conditional, aggregate and window functions:
no set-returning functions, no string-inflating ``repeat``/``lpad``/``rpad``, nothing that reads
or changes settings, sleeps, touches files, large objects or remote links, runs SQL text, or
tells the caller about the database, its roles or its catalogue), ``current_user`` and the
other role/catalogue SQL value functions, casts to the catalogue-lookup ``reg*`` types, and
tables outside the allow-list. A name is a CTE reference only where a CTE of that name is visible (earlier
siblings of a WITH, every sibling of a WITH RECURSIVE, the body of the SELECT that owns the WITH;
never a schema-qualified name), so a CTE cannot hide a table of the same name elsewhere.

The parser is the first wall, not the only one: at run time the query runs as a database role
that may SELECT only the allow-listed tables, whose rows PostgreSQL's row-level security limits
to the caller's ``RowScope``, in a read-only transaction with a statement timeout, a row limit
and a size limit (infrastructure/forms/sql_source.py). ``scope_plan`` (sql_scope.py) decides,
from the columns the database reports for the query, how each row is tied to the caller's data
scope; ``referenced_columns`` (sql_references.py) names the columns a query uses other than as
plain output, so a caller for whom one of them is hidden or masked is refused (no predicate
oracle on hidden fields). This module does the check of the statement itself.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import pglast
from pglast import ast
from pglast.visitors import Ancestor, Visitor

from application.forms.engine.sql_allowlist import ALLOWED_FUNCTIONS, DATE_TIME_VALUES, INFLATING, SET_RETURNING
from application.forms.engine.sql_references import referenced_columns
from application.forms.engine.sql_scope import scope_plan
from application.forms.engine.sql_tree import UnsafeSqlError, present
from domain.forms.checked_sql import PARAM, CheckedSql

# The checks a data source passes, importable from here as they always were.
__all__ = ["ALLOWED_FUNCTIONS", "UnsafeSqlError", "check_select", "referenced_columns", "scope_plan"]


class _Inspector(Visitor):
    def __init__(self) -> None:
        self.problems: list[str] = []

    def visit(self, ancestors: Ancestor, node: ast.Node) -> None:
        if isinstance(node, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)):
            self.problems.append("only SELECT is allowed (found a data-modifying statement)")
        elif isinstance(node, ast.SelectStmt):
            if node.intoClause is not None:
                self.problems.append("SELECT INTO is not allowed")
            if node.lockingClause:
                self.problems.append("locking clauses (FOR UPDATE/SHARE) are not allowed")
        elif isinstance(node, (ast.RangeFunction, ast.RangeTableFunc)) or type(node).__name__ == "JsonTable":
            self.problems.append("functions in FROM are not allowed")
        elif isinstance(node, ast.FuncCall):
            names = [present(n.sval, "function name").lower() for n in present(node.funcname, "function name")]
            name = names[-1]
            if name in SET_RETURNING:
                self.problems.append(f"function {name}() is not allowed (it returns a set of rows)")
            elif name in INFLATING:
                self.problems.append(f"function {name}() is not allowed (it inflates a value)")
            elif name not in ALLOWED_FUNCTIONS or names[:-1] not in ([], ["pg_catalog"]):
                self.problems.append(f"function {'.'.join(names)}() is not allowed (not on the list of allowed"
                                     " functions, see docs/forms.md)")
        elif isinstance(node, ast.SQLValueFunction):
            op = getattr(node.op, "name", str(node.op))
            if op not in DATE_TIME_VALUES:
                word = op.removeprefix("SVFOP_").lower()
                self.problems.append(f"{word} is not allowed (it describes the database)")
        elif isinstance(node, ast.TypeCast) and node.typeName is not None:
            type_name = present(present(node.typeName.names, "type name")[-1].sval, "type name").lower()
            if type_name.startswith(("reg", "pg_", "txid")):
                self.problems.append(f"casts to {type_name} are not allowed (they look up the catalogue)")


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
        found.append((node.catalogname, node.schemaname, present(node.relname, "table name")))
    elif isinstance(node, ast.Node):
        for attr in node:
            _relations(getattr(node, attr), visible, found)
    elif isinstance(node, (tuple, list)):
        for item in node:
            _relations(item, visible, found)


def _numbered(sql: str, names: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """``:name`` -> ``$n``, and where the text shifted: (offset in the result, source length minus
    result length) for each parameter, to map offsets of the result back to ``sql``."""
    out, shifts, last = [], [], 0
    for m in PARAM.finditer(sql):
        out.append(sql[last:m.start()])
        at = sum(map(len, out))
        placeholder = f"${names.index(m.group(1)) + 1}"
        out.append(placeholder)
        shifts.append((at, len(m.group(0)) - len(placeholder)))
        last = m.end()
    out.append(sql[last:])
    return "".join(out), shifts


def check_select(sql: str, allowed_tables: set[str], *, max_length: int = 10_000) -> CheckedSql:
    if len(sql) > max_length:
        raise UnsafeSqlError(f"SQL longer than {max_length} characters")
    names: list[str] = []
    for name in PARAM.findall(sql):
        if name not in names:
            names.append(name)
    numbered, shifts = _numbered(sql, names)
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
    # The statement alone, without a trailing ";" (the runner wraps it in a subquery).
    # The parser leaves out zero values: no stmt_location is offset 0, no stmt_len "to the end".
    end = (statements[0].stmt_location or 0) + statements[0].stmt_len if statements[0].stmt_len else len(numbered)
    body = sql[:end + sum(delta for at, delta in shifts if at < end)]
    psycopg_sql = PARAM.sub(lambda m: f"%({m.group(1)})s", body.replace("%", "%%"))
    counts = Counter((schema, rel) for _, schema, rel in found)
    relations = tuple((schema, rel, n) for (schema, rel), n in sorted(counts.items(), key=str))
    return CheckedSql(sql, tuple(names), tuple(sorted(tables)), psycopg_sql, relations)
