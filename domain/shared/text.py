"""Values every store can hold, checked once for every context.

PostgreSQL text and jsonb cannot hold NUL, a lone UTF-16 surrogate cannot be encoded at all,
bigint and ClickHouse Int64 stop at 2**63, JSON has no NaN, and deeply nested documents
exhaust recursion in the transcoder and the read models. An event carrying any of these
could never be projected, so the HTTP boundary refuses them in request bodies and the event
store refuses them in events (the last line, for what no parser saw): the same rules, here.
"""
from __future__ import annotations

import math
from typing import Any

from domain.shared.errors import RuleViolationError, UnstorableValueError

MAX_DEPTH = 32                   # nesting of objects/arrays in one request body or event
MIN_INT, MAX_INT = -(2**63), 2**63 - 1


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an invalid character (a lone UTF-16 surrogate)"
    return None


def number_problem(value: int | float) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if MIN_INT <= value <= MAX_INT else "is outside the 64-bit integer range"
    if not math.isfinite(value):
        return "is not a finite number"
    if abs(value) >= 2.0**63:
        # jsonb keeps numbers as numeric and gives a large float back as an integer (1e20 ->
        # 100000000000000000000), which no 64-bit reader can take: the same bound as integers.
        return "is outside the range the store holds (|x| < 2**63)"
    return None


# Text that ends up in an indexed read-model column (names, titles, codes, keys) must fit a btree
# index entry (about 2.7 kB): longer values are refused before they are stored, not when a
# projection meets them.
NAME_LENGTH = 200
KEY_LENGTH = 64


def require_text(value: str, field: str, max_length: int = NAME_LENGTH) -> str:
    """``value`` if it can be stored and is at most ``max_length`` characters; else a domain error."""
    problem = text_problem(value)
    if problem:
        raise UnstorableValueError(f"{field} {problem}", field=field)
    if len(value) > max_length:
        raise RuleViolationError(f"{field} is longer than {max_length} characters", field=field)
    return value


def value_problem(value: Any, path: str = "", depth: int = 0) -> tuple[str, str] | None:
    """(path, why) of the first part of a JSON-like value that cannot be stored, or None.
    Keys are checked like values; ``path`` is dotted (list items by index)."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, (int, float)):
        problem = number_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return path, f"is nested deeper than {MAX_DEPTH} levels"
        for key, item in value.items():
            key_text = key if isinstance(key, str) else str(key)
            here = f"{path}.{key_text}" if path else key_text
            problem = text_problem(key_text)
            if problem:
                return here, f"key {problem}"
            found = value_problem(item, here, depth + 1)
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        if depth >= MAX_DEPTH:
            return path, f"is nested deeper than {MAX_DEPTH} levels"
        for index, item in enumerate(value):
            found = value_problem(item, f"{path}.{index}" if path else str(index), depth + 1)
            if found:
                return found
    return None
