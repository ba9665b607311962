"""Opaque keyset cursors: base64url of a small JSON list."""
from __future__ import annotations

import base64
from typing import Any

import orjson

from interfaces.api.problems import ApiProblem


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise ApiProblem(400, "invalid_cursor", "cursor is malformed; use next_cursor from a previous page",
                         field="cursor")
    return values
