"""Export packages for regulators (导出规则灵活配置——方便监管报备): a zip holding the selected
documents' current content, manifest.csv, manifest.json and SHA256SUMS. The zip itself is
stored in the blob store and its production is an audited ``ExportProduced`` event."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from application.shared.base import CommandResult, Loader, command
from application.shared.spreadsheet import safe_cell
from domain.archive.content import BlobStore, read_chunks
from domain.archive.export import ArchiveExport, ExportRuleDefinition
from domain.archive.rules import ExportRule
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id

MANIFEST_FIELDS = ("path", "document_id", "customer", "fund_account", "level", "business_line", "business_type",
                   "flow_instance", "category", "filename", "media_type", "size", "sha256", "version",
                   "uploaded_at", "status")
MAX_EXPORT_BYTES = 1 << 34
MAX_EXPORT_FILES = 10_000
_SEGMENT_UNSAFE = re.compile(r"[^\w.\-]", re.UNICODE)


def _segment(value: Any, default: str) -> str:
    """One path segment of a zip member, whatever the stored value: word characters, ``.`` and
    ``-`` only, never ``.``/``..`` or empty (identifiers are validated at intake; this also
    covers data stored before that and masked values)."""
    text = _SEGMENT_UNSAFE.sub("_", str(value)) if value else ""
    text = text.strip(".")[:100]
    return text or default


def _member(row: dict[str, Any]) -> str:
    owner = _segment(row.get("customer"), "_unfiled")
    scope = _segment(row.get("fund_account"), "_customer")
    return f"{owner}/{scope}/{row['id']}_v{row['current_version']}_{_segment(row.get('filename'), 'file')}"


def reach_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every distinct (business line, department, fund account) the package holds documents of:
    a caller may list or download the package only when their scope covers each of them."""
    seen = {(r["business_line"], str(r["department_id"]) if r.get("department_id") else None,
             r.get("fund_account")) for r in rows}
    return [{"business_line": line, "department_id": dept, "fund_account": account}
            for line, dept, account in sorted(seen, key=lambda t: tuple(x or "" for x in t))]


@dataclass(frozen=True)
class ExportLimits:
    staging: Path                    # where a package is written before it is stored as a blob
    max_files: int = MAX_EXPORT_FILES
    max_bytes: int = MAX_EXPORT_BYTES


class Exports:
    # Given at composition:
    blobs: BlobStore
    export_limits: ExportLimits
    # From the host (LedgerApplication):
    load: Loader
    save_one: Callable[[Any], CommandResult]
    create_unique: Callable[[Any, str], CommandResult]

    @command
    def define_rule(self, key: str, name: str, business_line: str, rule: dict[str, Any]) -> CommandResult:
        parsed = ExportRule.parse(rule)
        return self.create_unique(ExportRuleDefinition.define(key, name, business_line, parsed.as_dict()),
                                  f"export rule {key!r}")

    def rule(self, key: str) -> ExportRuleDefinition:
        return self.load(natural_id("archive_export_rule", key), ExportRuleDefinition, what=f"export rule {key!r}")

    @command
    def produce(self, rule: ExportRule, rule_key: str | None, business_line: str | None, purpose: str,
                select: Callable[[ExportRule, int], list[dict[str, Any]]],
                present: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
                ) -> tuple[CommandResult, ArchiveExport]:
        """``select(rule, limit)`` gives the rows in the caller's scope (at most ``limit``);
        ``present`` applies the caller's field rules to the manifest rows and member paths."""
        limits = self.export_limits
        rows = select(rule, limits.max_files + 1)
        if not rows:
            raise RuleViolationError("no document matches this export rule; nothing was exported")
        if len(rows) > limits.max_files:
            raise RuleViolationError(f"the rule selects more than {limits.max_files} documents; narrow it")
        if sum(r["size"] for r in rows) > limits.max_bytes:
            raise RuleViolationError(f"the selected documents exceed {limits.max_bytes} bytes; narrow the rule")
        shown = present(rows) if present else rows
        limits.staging.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=limits.staging) as tmp:
            path = Path(tmp) / "export.zip"
            manifest, sums, total = [], [], 0
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for row, seen in zip(rows, shown, strict=True):
                    member = _member(seen)
                    with self.blobs.open(row["sha256"]) as src, zf.open(member, "w", force_zip64=True) as dst:
                        digest = hashlib.sha256()
                        for chunk in read_chunks(src):
                            digest.update(chunk)
                            dst.write(chunk)
                    if digest.hexdigest() != row["sha256"]:
                        raise RuleViolationError(f"document {row['id']} failed its checksum; run "
                                                 "`ledgerflow archive scan` before exporting")
                    total += row["size"]
                    if total > limits.max_bytes:
                        raise RuleViolationError("the export is too large; narrow the rule")
                    manifest.append({**{k: seen.get(k) for k in MANIFEST_FIELDS if k in seen}, "path": member,
                                     "document_id": str(row["id"]), "version": row["current_version"],
                                     "uploaded_at": row["uploaded_at"].isoformat(),
                                     "flow_instance": str(row["flow_instance"]) if row["flow_instance"] else None})
                    sums.append(f"{row['sha256']}  {member}")
                zf.writestr("manifest.json", json.dumps({"rule": rule.as_dict(), "rule_key": rule_key,
                                                         "purpose": purpose, "count": len(manifest),
                                                         "documents": manifest}, ensure_ascii=False, indent=2))
                out = io.StringIO()
                writer = csv.DictWriter(out, fieldnames=MANIFEST_FIELDS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows({k: safe_cell(v) for k, v in m.items()} for m in manifest)
                zf.writestr("manifest.csv", "\ufeff" + out.getvalue())  # BOM: Excel opens UTF-8 Chinese
                zf.writestr("SHA256SUMS", "\n".join(sums) + "\n")
            with path.open("rb") as stream:
                staged = self.blobs.stage(read_chunks(stream), limits.max_bytes + (1 << 30))
            self.blobs.commit(staged)
        export = ArchiveExport(rule_key=rule_key, rule=rule.as_dict(), business_line=business_line,
                               count=len(rows), zip_sha256=staged.sha256, size=staged.size, purpose=purpose,
                               reach=reach_of(rows))
        return self.save_one(export), export
