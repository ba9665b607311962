"""Export packages for regulators (导出规则灵活配置——方便监管报备): a zip holding the selected
documents' current content, manifest.csv, manifest.json and SHA256SUMS. The zip itself is
stored in the blob store and its production is an audited ``ExportProduced`` event."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from application.shared.base import CommandResult, LedgerApplication, command
from domain.archive.export import ArchiveExport, ExportRuleDefinition
from domain.archive.rules import ExportRule
from domain.shared.errors import NotFoundError, RuleViolationError
from domain.shared.ids import natural_id
from infrastructure.archive.blobs import BlobStore, read_chunks

MANIFEST_FIELDS = ("path", "document_id", "customer", "fund_account", "level", "business_line", "business_type",
                   "flow_instance", "category", "filename", "media_type", "size", "sha256", "version",
                   "uploaded_at", "status")
MAX_EXPORT_BYTES = 1 << 34


def _member(row: dict[str, Any]) -> str:
    owner = row["customer"] or "_unfiled"
    scope = row["fund_account"] or "_customer"
    return f"{owner}/{scope}/{row['id']}_v{row['current_version']}_{row['filename']}"


class ArchiveExports(LedgerApplication):
    name = "archive-exports"

    def __init__(self, store: Any, *, blobs: BlobStore, staging: Path):
        super().__init__(store)
        self.blobs, self.staging = blobs, staging

    @command
    def define_rule(self, key: str, name: str, business_line: str, rule: dict[str, Any]) -> CommandResult:
        parsed = ExportRule.parse(rule)
        return self.create_unique(ExportRuleDefinition.define(key, name, business_line, parsed.as_dict()),
                                  f"export rule {key!r}")

    def rule(self, key: str) -> ExportRuleDefinition:
        try:
            return self.load(natural_id("archive_export_rule", key), ExportRuleDefinition)
        except NotFoundError:
            raise NotFoundError(f"export rule {key!r} does not exist") from None

    @command
    def produce(self, rule: ExportRule, rule_key: str | None, business_line: str | None, purpose: str,
                select: Callable[[ExportRule], list[dict[str, Any]]]) -> tuple[CommandResult, ArchiveExport]:
        rows = select(rule)
        if not rows:
            raise RuleViolationError("no document matches this export rule; nothing was exported")
        self.staging.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.staging) as tmp:
            path = Path(tmp) / "export.zip"
            manifest, sums, total = [], [], 0
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for row in rows:
                    member = _member(row)
                    with self.blobs.open(row["sha256"]) as src, zf.open(member, "w", force_zip64=True) as dst:
                        digest = hashlib.sha256()
                        for chunk in read_chunks(src):
                            digest.update(chunk)
                            dst.write(chunk)
                    if digest.hexdigest() != row["sha256"]:
                        raise RuleViolationError(f"document {row['id']} failed its checksum; run "
                                                 "`ledgerflow archive scan` before exporting")
                    total += row["size"]
                    if total > MAX_EXPORT_BYTES:
                        raise RuleViolationError("the export is too large; narrow the rule")
                    manifest.append({**{k: row.get(k) for k in MANIFEST_FIELDS if k in row}, "path": member,
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
                writer.writerows(manifest)
                zf.writestr("manifest.csv", "\ufeff" + out.getvalue())  # BOM: Excel opens UTF-8 Chinese
                zf.writestr("SHA256SUMS", "\n".join(sums) + "\n")
            with path.open("rb") as stream:
                staged = self.blobs.stage(read_chunks(stream), MAX_EXPORT_BYTES)
            self.blobs.commit(staged)
        export = ArchiveExport(rule_key=rule_key, rule=rule.as_dict(), business_line=business_line,
                               count=len(rows), zip_sha256=staged.sha256, size=staged.size, purpose=purpose)
        return self.save_one(export), export
