"""Integrity scan: re-hash every stored blob the read model expects and report the corrupted
(content no longer matches its address) and the missing ones, with the document versions hit."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain.archive.content import BlobStore, read_chunks


@dataclass
class ScanReport:
    checked: int = 0
    ok: int = 0
    corrupted: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.corrupted and not self.missing

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "ok": self.ok, "healthy": self.healthy, "corrupted": self.corrupted,
                "missing": self.missing, "orphans": self.orphans}


def rehash(store: BlobStore, sha256: str) -> str | None:
    """The SHA-256 of what is stored under ``sha256`` now, or None when it is missing."""
    if not store.exists(sha256):
        return None
    digest = hashlib.sha256()
    with store.open(sha256) as stream:
        for chunk in read_chunks(stream):
            digest.update(chunk)
    return digest.hexdigest()


class Integrity:
    # Given at composition:
    blobs: BlobStore

    def scan(self, expected: dict[str, list[dict[str, Any]]],
             progress: Callable[[int, int], None] | None = None) -> ScanReport:
        """``expected``: every content hash the read model knows, with the versions using it."""
        blobs = self.blobs
        report = ScanReport()
        total = len(expected)
        for i, (sha256, uses) in enumerate(sorted(expected.items()), 1):
            report.checked += 1
            actual = rehash(blobs, sha256)
            users = list(uses)
            if actual is None:
                report.missing.append({"sha256": sha256, "used_by": users})
            elif actual != sha256:
                report.corrupted.append({"sha256": sha256, "actual_sha256": actual, "used_by": users})
            else:
                report.ok += 1
            if progress:
                progress(i, total)
        report.orphans = sorted(h for h in blobs.hashes() if h not in expected)
        return report
