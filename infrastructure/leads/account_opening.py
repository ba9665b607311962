"""Adapter for the account-opening system (开户云). Its events — entered, node reached,
interrupted, opened, closed — arrive over an HTTP webhook (interfaces/api/routes/leads.py) or,
in embedded mode, from a JSON-lines file that this adapter tails from a remembered offset:

    {"business_line": "brokerage", "phone": "13812345678", "kind": "opened",
     "at": "2026-11-21T10:00:00+08:00", "node": "video", "external_id": "A-1"}

Every line yields a per-line result; a bad line is reported and skipped, never retried forever."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from application.leads.inputs import OpeningEvent, first_error
from domain.shared.context import CommandContext
from domain.shared.errors import DomainError

KINDS = ("entered", "node", "interrupted", "opened", "closed")
log = logging.getLogger(__name__)


def apply_opening_event(leads: Any, ctx: CommandContext, raw: Any) -> dict[str, Any]:
    """One event: validated strictly (bounded strings, aware time, known kind), then applied.
    Any failure is this event's rejection, never the batch's or the feed's."""
    if not isinstance(raw, dict):
        return {"status": "rejected", "reason": "an event must be an object"}
    try:
        event = OpeningEvent.model_validate(raw)
    except ValidationError as exc:
        return {"status": "rejected", "reason": first_error(exc)}
    try:
        result = leads.opening_event(ctx, event.business_line, event.phone, event.kind, event.at, event.node,
                                     event.external_id)
    except DomainError as exc:
        return {"status": "rejected", "reason": exc.message}
    except Exception as exc:  # noqa: BLE001 - one bad event must not stop the others (logged for operators)
        log.exception("account-opening event failed")
        return {"status": "rejected", "reason": f"the event could not be applied ({type(exc).__name__})"}
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
                if line.strip():
                    try:
                        raw = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        results.append({"status": "rejected", "reason": "not JSON"})
                    else:
                        results.append(apply_opening_event(leads, CommandContext.system("account-opening-file"),
                                                           raw))
                self._save(offset)  # per line: a line is never applied twice, whatever happens later
        return results

    def _save(self, offset: int) -> None:
        tmp = self.offset_path.with_suffix(".tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, self.offset_path)
