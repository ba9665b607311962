"""Adapter for the account-opening system (开户云). Its events (the steps in
``domain.leads.lead.OPENING_KINDS``) arrive over an HTTP webhook (interfaces/api/routes/leads/opening.py) or,
in embedded mode, from a JSON-lines file that this adapter tails from a remembered offset:

    {"business_line": "brokerage", "phone": "13812345678", "kind": "opened",
     "at": "2026-11-21T10:00:00+08:00", "node": "video", "external_id": "A-1"}

Every line yields a per-line result; a bad line is reported and skipped, never retried forever."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from domain.shared.context import CommandContext


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
                if line.strip():
                    try:
                        raw = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        results.append({"status": "rejected", "reason": "not JSON"})
                    else:
                        results.append(leads.apply_opening_event(CommandContext.system("account-opening-file"), raw))
                self._save(offset)  # per line: a line is never applied twice, whatever happens later
        return results

    def _save(self, offset: int) -> None:
        tmp = self.offset_path.with_suffix(".tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, self.offset_path)
