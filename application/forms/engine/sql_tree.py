"""What the data-source SQL checks share: the refusal, and two accessors of pglast's tree that
refuse a shape they do not expect instead of guessing what it means."""
from __future__ import annotations

from typing import TypeVar

from pglast import ast


class UnsafeSqlError(ValueError):
    pass


T = TypeVar("T")


def present(value: T | None, what: str) -> T:
    """A part of the tree the parser always fills in; should it ever not, refuse the query
    rather than guess what it means."""
    if value is None:
        raise UnsafeSqlError(f"unexpected query shape: no {what}")
    return value


def only_select(node: ast.Node | None) -> ast.SelectStmt:
    """The SELECT the grammar puts here (a set operation's arms, a subquery, a CTE body)."""
    if not isinstance(node, ast.SelectStmt):
        raise UnsafeSqlError(f"only SELECT is allowed, found {type(node).__name__}")
    return node
