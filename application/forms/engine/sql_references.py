"""The columns a data-source query uses other than as plain output, so a caller for whom one of
them is hidden or masked is refused: no predicate oracle on hidden fields."""
from __future__ import annotations

from typing import Any

import pglast
from pglast import ast

from application.forms.engine.sql_tree import only_select, present
from domain.forms.checked_sql import PARAM


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
    walker.select(only_select(statements[0].stmt), passthrough=True)
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
        last = present(ref.fields, "column name")[-1]
        return "*" if isinstance(last, ast.A_Star) else present(last.sval, "column name").lower()

    def select(self, node: ast.SelectStmt, *, passthrough: bool) -> None:
        """``passthrough``: the select list's bare columns only pass values on (the query itself,
        a CTE body, a subquery in FROM); otherwise (a subquery in an expression) they are used."""
        if node.withClause is not None:
            for cte in node.withClause.ctes or ():
                self.relations.add(present(cte.ctename, "CTE name").lower())
                if cte.aliascolnames:
                    self.used.add("*")
                self.select(only_select(cte.ctequery), passthrough=True)
        if node.op is not None and getattr(node.op, "name", node.op) not in ("SETOP_NONE", 0):
            self.select(only_select(node.larg), passthrough=passthrough)
            self.select(only_select(node.rarg), passthrough=passthrough)
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
            self.relations.add(present(node.relname, "table name").lower())
            if node.alias is not None:
                self.relations.add(present(node.alias.aliasname, "alias").lower())
                if node.alias.colnames:
                    self.used.add("*")
        elif isinstance(node, ast.RangeSubselect):
            if node.alias is not None:
                self.relations.add(present(node.alias.aliasname, "alias").lower())
                if node.alias.colnames:
                    self.used.add("*")
            self.select(only_select(node.subquery), passthrough=True)
        elif isinstance(node, ast.JoinExpr):
            self.source(node.larg)
            self.source(node.rarg)
            if node.isNatural:
                self.used.add("*")
            for name in node.usingClause or ():
                self.used.add(present(name.sval, "column name").lower())
            if node.alias is not None:
                self.relations.add(present(node.alias.aliasname, "alias").lower())
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
            self.select(only_select(node.subselect), passthrough=exists)
        elif isinstance(node, ast.Node):
            for attr in node:
                self.expression(getattr(node, attr))
