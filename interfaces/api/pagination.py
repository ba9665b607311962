"""Opaque keyset cursors: base64url of a small JSON list."""
from __future__ import annotations

import base64
from typing import Any

import orjson

from domain.shared.text import value_problem
from interfaces.api.problems import ApiProblem


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
            or not all(v is None or isinstance(v, (str, int, float)) for v in values)):
        raise ApiProblem(400, "invalid_cursor", "cursor is malformed; use next_cursor from a previous page",
                         field="cursor")
    return values
