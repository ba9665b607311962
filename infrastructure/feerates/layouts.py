"""Counter layouts from the settings file (LEDGERFLOW_FEERATES_LAYOUTS_FILE), added to the
built-in "ctp2" and "other":

    {"layouts": {"ctp2_v6": {"format": "csv", "encoding": "gbk", "columns": ["InvestorID", ...],
                             "header": true, "delimiter": "|", "decimal_places": 8}}}

A file that does not parse or names an unknown field stops the service at start (fail closed):
a counter must never receive a file in a layout nobody checked."""
from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import TypeAdapter, ValidationError

from domain.feerates.layouts import BUILT_IN, Layout

_LAYOUTS = TypeAdapter(dict[str, Layout])


def load_layouts(path: Path | None) -> dict[str, Layout]:
    if path is None:
        return dict(BUILT_IN)
    try:
        raw = orjson.loads(path.read_bytes())
        layouts = _LAYOUTS.validate_python(raw.get("layouts") if isinstance(raw, dict) else None)
    except (OSError, orjson.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"fee-rate layouts file {path}: {exc}") from exc
    return {**BUILT_IN, **layouts}
