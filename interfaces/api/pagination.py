"""Opaque keyset cursors: base64url of a small JSON list, decoded to typed values."""
from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson

from domain.shared.text import value_problem
from interfaces.api.problems import ApiProblem, Responses

MALFORMED = "cursor is malformed; use next_cursor from a previous page"


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    if cursor is None:
        return None
    if len(cursor) > 1024:
        raise ApiProblem(400, "invalid_cursor", "cursor is too long", field="cursor")
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        values = None
    # A cursor is the caller's text: what it decodes to is checked like any other input.
    if (not isinstance(values, list) or len(values) != arity or value_problem(values) is not None
            or not all(v is None or (isinstance(v, (str, int)) and not isinstance(v, bool)) for v in values)):
        raise ApiProblem(400, "invalid_cursor", MALFORMED, field="cursor")
    return values


def _exactly(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise ValueError(kind.__name__)
        return value
    return check


def _flag(value: Any) -> bool:
    if value not in (0, 1):
        raise ValueError("bool")
    return bool(value)


def _instant(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


# 'at' an instant or null, 'at!' an instant, 'id' a UUID, 'bool' 0/1, 'text' text, 'int' an integer.
KINDS: dict[str, Callable[[Any], Any]] = {
    "at": lambda v: None if v is None else _instant(v), "at!": _instant, "id": lambda v: UUID(str(v)),
    "bool": _flag, "int": _exactly(int), "text": _exactly(str),
    "date": lambda v: date.fromisoformat(_exactly(str)(v))}


# The 400 every keyset-paged list can answer (declared in its OpenAPI responses).
INVALID_CURSOR: Responses = {400: {"description": "`invalid_cursor`: use next_cursor from a previous page."}}


def typed_cursor(cursor: str | None, *kinds: str) -> tuple[Any, ...] | None:
    """A keyset cursor's values, each parsed as its kind (``KINDS``); None when there is none."""
    values = decode_cursor(cursor, len(kinds))
    if values is None:
        return None
    try:
        return tuple(KINDS[kind](value) for kind, value in zip(kinds, values, strict=True))
    except ValueError:
        raise ApiProblem(400, "invalid_cursor", MALFORMED, field="cursor") from None
