"""Text every store can hold: PostgreSQL text and jsonb cannot hold NUL, and a lone UTF-16
surrogate cannot be encoded at all. An event carrying either could never be projected, so
every context refuses such text at its boundary with this one check."""
from __future__ import annotations


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an invalid character (a lone UTF-16 surrogate)"
    return None
