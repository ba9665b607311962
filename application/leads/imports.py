"""Imports (手动导入): a CSV or XLSX file read in chunks, each chunk one intake batch, with its
progress published through the progress port given at composition."""
from __future__ import annotations

from typing import IO, Any

from application.leads.importer import Importer
from application.leads.ports import ImportProgress
from domain.shared.context import CommandContext


class Imports:
    progress: ImportProgress | None

    def import_file(self, ctx: CommandContext, channel: str, stream: IO[bytes], *, business_line: str,
                    started_by: str, import_id: str | None = None) -> dict[str, Any]:
        owner = {"business_line": business_line, "started_by": started_by}

        def publish(report: dict[str, Any]) -> None:
            if self.progress is not None:
                self.progress.publish({**report, **owner})

        return Importer(self).run(ctx, channel, stream, progress=publish, import_id=import_id)

    def import_progress(self, import_id: str) -> dict[str, Any] | None:
        """The last progress published for an import (None: unknown or older than a day)."""
        return self.progress.get(import_id) if self.progress is not None else None
