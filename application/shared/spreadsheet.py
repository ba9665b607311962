"""CSV cells a spreadsheet will not run as formulas (CSV injection): every CSV the service
writes — operator exports, lead analytics and import results, archive manifests — passes its
cells through ``safe_cell``."""
from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text starting with = + - @ TAB CR gets a leading apostrophe; other values are unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
