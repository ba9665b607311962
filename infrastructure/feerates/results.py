"""The counter's result feed (embedded mode): the back office's import job, or an operator, drops
result files into ``<counter dir>/results/`` — JSON (an object or a list of objects), JSON lines
(``.jsonl``) or CSV with a header — one result per record:

    {"file": "feerate_<instance>_<task>.csv", "status": "imported", "message": ""}
    {"request_id": "<instance>:<task>", "status": "failed", "message": "投资者不存在"}

A poller reads each complete file (names starting with '.' or ending in '.tmp' are still being
written), records every result on its write-back, and moves the file to ``results/processed/``
(or ``results/rejected/`` when it cannot be read at all). Recording is idempotent per write-back,
so a file read twice after a crash records nothing new; a result that cannot be recorded (an
unknown file, a conflicting status) is logged and listed in ``<name>.errors.json`` beside it."""
from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import orjson

from domain.shared.context import CommandContext
from domain.shared.errors import DomainError

log = logging.getLogger(__name__)
SUFFIXES = (".json", ".jsonl", ".csv")
STATUSES = ("imported", "failed")


def _text(raw: bytes) -> str:
    # Counters on Windows write GBK; GB18030 reads every GBK file and more.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def parse(name: str, raw: bytes) -> list[dict[str, Any]]:
    text = _text(raw)
    if name.endswith(".csv"):
        return list(csv.DictReader(io.StringIO(text)))
    if name.endswith(".jsonl"):
        return [orjson.loads(line) for line in text.splitlines() if line.strip()]
    value = orjson.loads(text)
    return value if isinstance(value, list) else [value]


class ResultRecorder(Protocol):
    """FeeRatesApplication.report_result, as this adapter sees it."""

    def report_result(self, ctx: CommandContext, reference: str, status: str, message: str, channel: str) -> Any: ...


class ResultFeed:
    def __init__(self, root: Path, feerates: ResultRecorder):
        self.inbox = root / "results"
        self.processed, self.rejected = self.inbox / "processed", self.inbox / "rejected"
        for folder in (self.inbox, self.processed, self.rejected):
            folder.mkdir(parents=True, exist_ok=True)
        self.feerates = feerates

    def poll(self) -> list[dict[str, Any]]:
        """Read every complete result file once; per result: recorded, or why not."""
        outcomes: list[dict[str, Any]] = []
        # Never a symlink: the drop is the counter's, and a link would read any file the service can.
        for path in sorted(p for p in self.inbox.iterdir() if p.is_file() and not p.is_symlink()):
            if path.name.startswith(".") or path.name.endswith(".tmp") or not path.name.endswith(SUFFIXES):
                continue
            outcomes.extend(self._file(path))
        return outcomes

    def _file(self, path: Path) -> list[dict[str, Any]]:
        try:
            records = parse(path.name, path.read_bytes())
        except (ValueError, csv.Error) as exc:
            log.warning("counter result file %s cannot be read: %s", path.name, exc)
            os.replace(path, self.rejected / path.name)
            return [{"result_file": path.name, "outcome": "rejected", "problem": "unreadable"}]
        outcomes, errors = [], []
        for i, record in enumerate(records):
            outcome = self._record(path.name, i, record)
            outcomes.append(outcome)
            if outcome["outcome"] != "recorded":
                errors.append(outcome)
        if errors:
            (self.processed / f"{path.name}.errors.json").write_bytes(orjson.dumps(errors, option=orjson.OPT_INDENT_2))
        # Moved only after every result was recorded and the flow told: a crash before this reads
        # the file again, which records nothing twice.
        os.replace(path, self.processed / path.name)
        return outcomes

    def _record(self, name: str, index: int, record: Any) -> dict[str, Any]:
        where = {"result_file": name, "index": index}
        if not isinstance(record, dict):
            return {**where, "outcome": "rejected", "problem": "not an object"}
        reference = record.get("file") or record.get("request_id")
        status, message = record.get("status"), record.get("message") or ""
        if not isinstance(reference, str) or status not in STATUSES or not isinstance(message, str):
            return {**where, "outcome": "rejected",
                    "problem": "needs file or request_id, status imported|failed, message text"}
        try:
            writeback = self.feerates.report_result(CommandContext.system("counter-results"), reference, status,
                                                    message, f"feed:{name}")
        except DomainError as exc:
            log.warning("counter result %s #%d for %s not recorded: %s", name, index, reference, exc.message)
            return {**where, "reference": reference, "outcome": "rejected", "problem": exc.code,
                    "message": exc.message}
        return {**where, "reference": reference, "outcome": "recorded", "writeback_id": str(writeback.id),
                "status": writeback.status}
