"""Static checks on admin-defined SQL data sources, with PostgreSQL's own parser (pglast).

A data source is one SELECT over allow-listed tables with ``:name`` parameters. Refused
before it ever runs: several statements, anything but SELECT (DDL, DML, data-modifying CTEs,
SELECT INTO, locking clauses), functions in FROM, every function not on ``ALLOWED_FUNCTIONS``
(common string, numeric, date/time, JSON-building, conditional, aggregate and window functions:
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
and a size limit (infrastructure/forms/sql_source.py). ``scope_plan`` decides, from the columns
the database reports for the query, how each row is tied to the caller's data scope;
``referenced_columns`` names the columns a query uses other than as plain output, so a caller
for whom one of them is hidden or masked is refused (no predicate oracle on hidden fields).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, TypeVar

import pglast
from pglast import ast
from pglast.visitors import Ancestor, Visitor

from domain.forms.checked_sql import PARAM, SCOPE_COLUMNS, CheckedSql

# An allow-list: a function not named here is refused. Unqualified or pg_catalog-qualified only.
ALLOWED_FUNCTIONS = frozenset({
    # strings (no repeat/lpad/rpad/format: they inflate a value far beyond their inputs)
    "length", "char_length", "character_length", "octet_length", "bit_length", "lower", "upper", "initcap",
    "btrim", "ltrim", "rtrim", "trim", "substring", "substr", "left", "right", "position", "strpos", "replace",
    "translate", "concat", "concat_ws", "split_part", "starts_with", "reverse", "overlay", "ascii", "chr",
    "md5", "normalize", "is_normalized", "regexp_replace", "regexp_match", "regexp_like", "regexp_count",
    "regexp_substr", "regexp_instr", "to_char", "to_number", "to_hex",
    # numbers
    "abs", "ceil", "ceiling", "floor", "round", "trunc", "mod", "div", "power", "sqrt", "cbrt", "exp", "ln",
    "log", "log10", "sign", "width_bucket", "gcd", "lcm", "scale",
    # dates and times
    "now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "date_trunc", "date_part",
    "extract", "age", "date_bin", "make_date", "make_time", "make_timestamp", "make_timestamptz",
    "make_interval", "to_date", "to_timestamp", "justify_days", "justify_hours", "justify_interval",
    "isfinite", "timezone", "overlaps",
    # JSON and arrays built from the row (no *_elements / *_each / *_keys: they return sets)
    "to_json", "to_jsonb", "json_build_object", "jsonb_build_object", "json_build_array", "jsonb_build_array",
    "json_extract_path_text", "jsonb_extract_path_text", "json_typeof", "jsonb_typeof", "json_array_length",
    "jsonb_array_length", "array_length", "cardinality", "array_to_string", "array_position",
    # conditionals (coalesce, nullif, greatest and least are expressions, not functions)
    "num_nulls", "num_nonnulls",
    # aggregates
    "count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every", "string_agg", "array_agg",
    "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "stddev", "stddev_pop", "stddev_samp",
    "variance", "var_pop", "var_samp", "percentile_cont", "percentile_disc", "mode",
    # window functions
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
    "last_value", "nth_value",
})
# Named in refusals, so an author learns why (all of them are off the allow-list anyway).
SET_RETURNING = frozenset({
    "generate_series", "generate_subscripts", "unnest", "regexp_matches", "regexp_split_to_table",
    "string_to_table", "json_array_elements", "json_array_elements_text", "jsonb_array_elements",
    "jsonb_array_elements_text", "json_each", "json_each_text", "jsonb_each", "jsonb_each_text",
    "json_object_keys", "jsonb_object_keys", "jsonb_path_query", "json_populate_recordset",
    "jsonb_populate_recordset", "json_to_recordset", "jsonb_to_recordset"})
INFLATING = frozenset({"repeat", "lpad", "rpad", "format", "array_fill"})
# current_date, current_time(stamp), localtime(stamp) are fine; current_user, session_user,
# current_role, user, current_catalog and current_schema describe the database.
DATE_TIME_VALUES = frozenset({"SVFOP_CURRENT_DATE", "SVFOP_CURRENT_TIME", "SVFOP_CURRENT_TIME_N",
                              "SVFOP_CURRENT_TIMESTAMP", "SVFOP_CURRENT_TIMESTAMP_N", "SVFOP_LOCALTIME",
                              "SVFOP_LOCALTIME_N", "SVFOP_LOCALTIMESTAMP", "SVFOP_LOCALTIMESTAMP_N"})
# Columns that tie a row to the data scope (a customer's fund account, a department).
class UnsafeSqlError(ValueError):
    pass


T = TypeVar("T")


def _present(value: T | None, what: str) -> T:
    """A part of the tree the parser always fills in; should it ever not, refuse the query
    rather than guess what it means."""
    if value is None:
        raise UnsafeSqlError(f"unexpected query shape: no {what}")
    return value


def _select(node: ast.Node | None) -> ast.SelectStmt:
    """The SELECT the grammar puts here (a set operation's arms, a subquery, a CTE body)."""
    if not isinstance(node, ast.SelectStmt):
        raise UnsafeSqlError(f"only SELECT is allowed, found {type(node).__name__}")
    return node


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
            names = [_present(n.sval, "function name").lower() for n in _present(node.funcname, "function name")]
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
            type_name = _present(_present(node.typeName.names, "type name")[-1].sval, "type name").lower()
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
        found.append((node.catalogname, node.schemaname, _present(node.relname, "table name")))
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


def referenced_columns(sql: str) -> frozenset[str]:
    """The column names a (checked) query uses other than as plain output, lower-cased: in WHERE,
    JOIN ON/USING, GROUP BY, HAVING, ORDER BY, DISTINCT, window clauses, subquery predicates and
    expressions anywhere, CTE and subquery bodies included. ``"*"`` means "possibly every
    column" (a whole-row reference such as ``c::text``, a ``*`` inside an expression or an
    IN/scalar subquery, NATURAL JOIN, plain DISTINCT over a ``*``, renamed columns ``AS t(a, b)``).

    Plain output is a bare column reference in the select list of the query, of a CTE body or of a
    subquery in FROM: it only passes a value on. Names are matched conservatively, by name: an
    alias (``id_number AS x``) makes later uses of ``x`` count as uses of ``id_number``, and an
    ordinal (``ORDER BY 2``) counts as a use of the column it points to."""
    statements = pglast.parse_sql(PARAM.sub(lambda m: "NULL", sql))
    walker = _References()
    walker.select(_select(statements[0].stmt), passthrough=True)
    used = set(walker.used)
    frontier = list(used)
    while frontier:  # follow aliases: x -> id_number
        for source in walker.aliases.get(frontier.pop(), ()):
            if source not in used:
                used.add(source)
                frontier.append(source)
    if used & walker.relations:  # a whole-row reference to a table, CTE or subquery
        used.add("*")
    return frozenset(used)


class _References:
    def __init__(self) -> None:
        self.used: set[str] = set()
        self.aliases: dict[str, set[str]] = {}
        self.relations: set[str] = set()

    @staticmethod
    def _column(ref: ast.ColumnRef) -> str:
        last = _present(ref.fields, "column name")[-1]
        return "*" if isinstance(last, ast.A_Star) else _present(last.sval, "column name").lower()

    def select(self, node: ast.SelectStmt, *, passthrough: bool) -> None:
        """``passthrough``: the select list's bare columns only pass values on (the query itself,
        a CTE body, a subquery in FROM); otherwise (a subquery in an expression) they are used."""
        if node.withClause is not None:
            for cte in node.withClause.ctes or ():
                self.relations.add(_present(cte.ctename, "CTE name").lower())
                if cte.aliascolnames:
                    self.used.add("*")
                self.select(_select(cte.ctequery), passthrough=True)
        if node.op is not None and getattr(node.op, "name", node.op) not in ("SETOP_NONE", 0):
            self.select(_select(node.larg), passthrough=passthrough)
            self.select(_select(node.rarg), passthrough=passthrough)
            self._ordinals(node, node.sortClause)
            self.expression(node.sortClause)
            self.expression(node.limitCount)
            self.expression(node.limitOffset)
            return
        targets = list(node.targetList or ())
        for target in targets:
            value = target.val
            if isinstance(value, ast.ColumnRef):
                column = self._column(value)
                if target.name:
                    self.aliases.setdefault(target.name.lower(), set()).add(column)
                if passthrough:  # a later use names the column (or the relation, for the whole row)
                    continue
                self.used.add(column)
            else:
                self.expression(value)
        if node.distinctClause is not None:
            if any(item is None for item in node.distinctClause):  # plain DISTINCT compares every output
                self._outputs(targets)
            self.expression([item for item in node.distinctClause if item is not None])
        for item in node.fromClause or ():
            self.source(item)
        self.expression(node.whereClause)
        self._ordinals(node, node.groupClause)
        self.expression(node.groupClause)
        self.expression(node.havingClause)
        self.expression(node.windowClause)
        self._ordinals(node, node.sortClause)
        self.expression(node.sortClause)
        self.expression(node.limitCount)
        self.expression(node.limitOffset)
        self.expression(node.valuesLists)

    def _outputs(self, targets: list[Any]) -> None:
        for target in targets:
            if isinstance(target.val, ast.ColumnRef):
                self.used.add(self._column(target.val))

    def _ordinals(self, node: ast.SelectStmt, items: Any) -> None:
        """``ORDER BY 2`` / ``GROUP BY 2`` use the second output column."""
        leftmost = node
        while leftmost.targetList is None and leftmost.larg is not None:
            leftmost = leftmost.larg
        targets = list(leftmost.targetList or ())
        for item in items or ():
            value = item.node if isinstance(item, ast.SortBy) else item
            if isinstance(value, ast.A_Const) and isinstance(value.val, ast.Integer):
                position = value.val.ival or 0  # the parser leaves out a zero
                if any(isinstance(t.val, ast.ColumnRef) and self._column(t.val) == "*" for t in targets):
                    self.used.add("*")  # which column the ordinal names depends on the tables
                elif 1 <= position <= len(targets) and isinstance(targets[position - 1].val, ast.ColumnRef):
                    self.used.add(self._column(targets[position - 1].val))

    def source(self, node: Any) -> None:
        if isinstance(node, ast.RangeVar):
            self.relations.add(_present(node.relname, "table name").lower())
            if node.alias is not None:
                self.relations.add(_present(node.alias.aliasname, "alias").lower())
                if node.alias.colnames:
                    self.used.add("*")
        elif isinstance(node, ast.RangeSubselect):
            if node.alias is not None:
                self.relations.add(_present(node.alias.aliasname, "alias").lower())
                if node.alias.colnames:
                    self.used.add("*")
            self.select(_select(node.subquery), passthrough=True)
        elif isinstance(node, ast.JoinExpr):
            self.source(node.larg)
            self.source(node.rarg)
            if node.isNatural:
                self.used.add("*")
            for name in node.usingClause or ():
                self.used.add(_present(name.sval, "column name").lower())
            if node.alias is not None:
                self.relations.add(_present(node.alias.aliasname, "alias").lower())
                if node.alias.colnames:
                    self.used.add("*")
            self.expression(node.quals)
        else:  # anything else in FROM is refused by check_select; be conservative anyway
            self.used.add("*")
            self.expression(node)

    def expression(self, node: Any) -> None:
        if node is None:
            return
        if isinstance(node, (list, tuple)):
            for item in node:
                self.expression(item)
        elif isinstance(node, ast.ColumnRef):
            self.used.add(self._column(node))
        elif isinstance(node, ast.SelectStmt):
            self.select(node, passthrough=False)
        elif isinstance(node, ast.SubLink):
            self.expression(node.testexpr)
            # EXISTS ignores its select list; IN/ANY/ALL/scalar/ARRAY compare or return it
            exists = getattr(node.subLinkType, "name", node.subLinkType) in ("EXISTS_SUBLINK", 0)
            self.select(_select(node.subselect), passthrough=exists)
        elif isinstance(node, ast.Node):
            for attr in node:
                self.expression(getattr(node, attr))
