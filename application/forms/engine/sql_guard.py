"""Static checks on admin-defined SQL data sources, with PostgreSQL's own parser (pglast).

A data source is one SELECT over allow-listed tables with ``:name`` parameters. Refused
before it ever runs: several statements, anything but SELECT (DDL, DML, data-modifying CTEs,
SELECT INTO, locking clauses), set-returning functions in FROM, dangerous functions (sleeping,
file and large-object access, settings, remote links), and tables outside the allow-list. At run
time it is also wrapped in a read-only transaction with a statement timeout and a row limit
(infrastructure/forms/sql_source.py): the parser is the first wall, not the only one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pglast
from pglast import ast
from pglast.visitors import Visitor

PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
DENIED_FUNCTION_PREFIXES = ("pg_", "lo_", "dblink", "xpath", "query_to_xml", "table_to_xml", "cursor_to_xml",
                            "database_to_xml", "schema_to_xml")
DENIED_FUNCTIONS = {"set_config", "current_setting", "txid_current", "nextval", "setval", "currval",
                    "version", "inet_server_addr", "copy"}


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


class _Inspector(Visitor):
    def __init__(self) -> None:
        self.tables: set[str] = set()
        self.ctes: set[str] = set()
        self.problems: list[str] = []

    def visit(self, ancestors, node):  # noqa: ANN001, ANN201 - pglast's visitor protocol
        if isinstance(node, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)):
            self.problems.append("only SELECT is allowed (found a data-modifying statement)")
        elif isinstance(node, ast.SelectStmt):
            if node.intoClause is not None:
                self.problems.append("SELECT INTO is not allowed")
            if node.lockingClause:
                self.problems.append("locking clauses (FOR UPDATE/SHARE) are not allowed")
        elif isinstance(node, ast.CommonTableExpr):
            self.ctes.add(node.ctename)
        elif isinstance(node, ast.RangeVar):
            name = f"{node.schemaname}.{node.relname}" if node.schemaname else node.relname
            self.tables.add(name)
        elif isinstance(node, ast.RangeFunction):
            self.problems.append("functions in FROM are not allowed")
        elif isinstance(node, ast.FuncCall):
            name = node.funcname[-1].sval.lower()
            if name in DENIED_FUNCTIONS or name.startswith(DENIED_FUNCTION_PREFIXES):
                self.problems.append(f"function {name}() is not allowed")


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
    outside = sorted(t for t in inspector.tables - inspector.ctes if t not in allowed_tables
                     and f"public.{t}" not in allowed_tables)
    if outside:
        inspector.problems.append(f"tables outside the allow-list: {', '.join(outside)}")
    if inspector.problems:
        raise UnsafeSqlError("; ".join(dict.fromkeys(inspector.problems)))
    psycopg_sql = PARAM.sub(lambda m: f"%({m.group(1)})s", sql.replace("%", "%%"))
    return CheckedSql(sql, tuple(names), tuple(sorted(inspector.tables - inspector.ctes)), psycopg_sql)
