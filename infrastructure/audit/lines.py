"""Append-only JSON-lines files: the file anchor and the TSA anchor's token log."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from domain.audit.anchors import AnchoredEntry, Checkpoint


def append_line(path: Path, record: dict[str, Any]) -> None:
    """One line, durable before returning: O_APPEND (never overwrites, even with several
    writers), fsync of the file, and of the directory when the file was just created (else a
    crash could lose the file's name though its content was synced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def newest_lines(path: Path) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    """Every non-empty line, newest first: (line number, record or None, error). All of them,
    not a tail: the highest checkpoint may lie anywhere (copies of an old one can be appended
    after it), and a line a checkpoint every few minutes for years is still a few megabytes."""
    if not path.exists():
        return []
    with path.open("r", encoding="utf-8", errors="replace") as f:
        lines = [(number, text) for number, text in enumerate(f, 1) if text.strip()]
    out: list[tuple[int, dict[str, Any] | None, str | None]] = []
    for number, text in reversed(lines):
        try:
            record = json.loads(text)
        except ValueError:
            out.append((number, None, "the line is not JSON"))
            continue
        out.append((number, record, None) if isinstance(record, dict) else (number, None, "not an object"))
    return out


def entry(where: str, record: dict[str, Any] | None, error: str | None) -> AnchoredEntry:
    if record is None:
        return AnchoredEntry(where, None, error)
    try:
        return AnchoredEntry(where, Checkpoint.from_json(record))
    except (KeyError, ValueError) as exc:
        return AnchoredEntry(where, None, f"unreadable checkpoint ({exc})")


class FileAnchor:
    """JSON lines in a local file (the embedded default). Make it append-only for the database's
    operators too (``chattr +a``, another host's mount, or ship it with the logs): see
    docs/operations.md."""

    def __init__(self, path: Path):
        self.path = self.local_file = path
        self.description = f"file {path}"

    def append(self, checkpoint: Checkpoint) -> None:
        append_line(self.path, checkpoint.to_json())

    def latest(self, limit: int) -> list[AnchoredEntry]:
        """Every line (``limit`` does not apply to a local file, see ``Anchor.latest``)."""
        return [entry(f"{self.path.name}:{n}", record, error) for n, record, error in newest_lines(self.path)]
