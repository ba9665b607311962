"""Intake rows: the checks a row passes before any lookup (pure)."""
from __future__ import annotations

from typing import Any

from domain.shared.text import text_problem

MAX_FIELD_CHARS = 500
MAX_FIELDS = 30
MAX_BATCH = 1000


def check_row(row: Any) -> tuple[Any, dict[str, str], str | None]:
    """(raw phone, extra fields, error) for one intake row, before any lookup."""
    if not isinstance(row, dict):
        return None, {}, "a row must be an object with a phone"
    fields = row.get("fields") or {}
    if not isinstance(fields, dict):
        return row.get("phone"), {}, "fields must be an object"
    extra = {k: v for k, v in row.items() if k not in ("phone", "fields")}
    merged = {**fields, **extra}
    if len(merged) > MAX_FIELDS:
        return row.get("phone"), {}, f"more than {MAX_FIELDS} fields"
    clean: dict[str, str] = {}
    for key, value in merged.items():
        if value is None or value == "":
            continue
        text = str(value)
        key_problem = text_problem(str(key))
        if key_problem:
            return row.get("phone"), {}, f"a field name {key_problem}"
        if len(str(key)) > 64:
            return row.get("phone"), {}, f"field name {str(key)[:20]!r}... is longer than 64 characters"
        if len(text) > MAX_FIELD_CHARS:
            return row.get("phone"), {}, f"field {key!r} is longer than {MAX_FIELD_CHARS} characters"
        problem = text_problem(text)
        if problem:
            return row.get("phone"), {}, f"field {key!r} {problem}"
        clean[str(key)] = text
    return row.get("phone"), clean, None

