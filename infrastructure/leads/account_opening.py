"""Adapter for the account-opening system (开户云). Its events — entered, node reached,
interrupted, opened, closed — arrive over an HTTP webhook (interfaces/api/routes/leads.py) or,
in embedded mode, from a JSON-lines file that this adapter tails from a remembered offset:

    {"business_line": "brokerage", "phone": "13812345678", "kind": "opened",
     "at": "2026-11-21T10:00:00+08:00", "node": "video", "external_id": "A-1"}

Every line yields a per-line result; a bad line is reported and skipped, never retried forever."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from domain.shared.context import CommandContext
from domain.shared.errors import DomainError

KINDS = ("entered", "node", "interrupted", "opened", "closed")


def apply_opening_event(leads: Any, ctx: CommandContext, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {"status": "rejected", "reason": "an event must be an object"}
    missing = [k for k in ("business_line", "phone", "kind", "at") if not raw.get(k)]
    if missing:
        return {"status": "rejected", "reason": f"missing {', '.join(missing)}"}
    if raw["kind"] not in KINDS:
        return {"status": "rejected", "reason": f"kind must be one of {', '.join(KINDS)}"}
    try:
        at = datetime.fromisoformat(str(raw["at"]))
        if at.tzinfo is None:
            raise ValueError
    except ValueError:
        return {"status": "rejected", "reason": "at must be an ISO 8601 time with a UTC offset"}
    try:
        result = leads.opening_event(ctx, str(raw["business_line"]), str(raw["phone"]), raw["kind"], at,
                                     raw.get("node"), raw.get("external_id"))
    except DomainError as exc:
        return {"status": "rejected", "reason": exc.message}
    return {"status": "accepted", "lead_id": str(result.id), "position": result.position}


class FileOpeningFeed:
    def __init__(self, path: Path):
        self.path = path
        self.offset_path = path.with_suffix(path.suffix + ".offset")

    def poll(self, leads: Any) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        offset = int(self.offset_path.read_text()) if self.offset_path.exists() else 0
        results = []
        with self.path.open("rb") as f:
            f.seek(offset)
            for line in f:
                if not line.endswith(b"\n"):
                    break  # a line still being written
                offset += len(line)
                if not line.strip():
                    continue
                try:
                    raw = orjson.loads(line)
                except orjson.JSONDecodeError:
                    results.append({"status": "rejected", "reason": "not JSON"})
                    continue
                results.append(apply_opening_event(leads, CommandContext.system("account-opening-file"), raw))
        self.offset_path.write_text(str(offset))
        return results
