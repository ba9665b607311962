"""Write-backs: export an approval's import file to its counter (exactly one file per request,
archived with the instance), and record the counter's result, then tell the flow."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from application.feerates.ports import ArchiveTarget, Completion, CounterPort, ImportArchive
from application.feerates.rendering import HookParams, Rendered, TableReader, render
from application.flows.system_hooks import HookRequest
from application.shared.base import CommandResult, Loader, command
from domain.feerates.layouts import Layout
from domain.feerates.template import FeeRateTemplate
from domain.feerates.writeback import Writeback, file_name, writeback_id
from domain.shared.errors import ConflictError, NotFoundError, RuleViolationError

log = logging.getLogger(__name__)


class Writebacks:
    # Given at composition:
    broker_id: str
    layouts: dict[str, Layout]
    counters: dict[str, CounterPort]
    import_archive: ImportArchive | None
    on_complete: Completion | None
    # From the host (LedgerApplication) and Templates:
    load: Loader
    exists: Callable[[UUID], bool]
    save_one: Callable[[Any], CommandResult]
    template: Callable[..., FeeRateTemplate]
    exchange_rates: TableReader

    def writeback(self, writeback_id_: UUID) -> Writeback:
        return self.load(writeback_id_, Writeback, what=f"write-back {writeback_id_}")

    def hook_params(self, params: dict[str, Any]) -> HookParams:
        return HookParams.parse(params, set(self.counters), set(self.layouts))

    def _render(self, request: HookRequest, params: HookParams, layout: str,
                pinned: dict[str, Any] | None) -> Rendered:
        if layout not in self.layouts:
            raise RuleViolationError(f"layout {layout!r} is no longer configured", field="layout")
        return render(request, params, self.layouts[layout], self.broker_id, self.template, self.exchange_rates,
                      pinned)

    @command
    def export_writeback(self, request: HookRequest, params: HookParams) -> Writeback:
        """Idempotent per request: the first run renders and records the export (pinning what it
        read), every run (re)drops the same bytes and archives them once."""
        wid = writeback_id(request.request_id)
        rendered: Rendered | None = None
        if self.exists(wid):
            writeback = self.load(wid, Writeback)
        else:
            rendered = self._render(request, params, params.layout, None)
            layout = self.layouts[params.layout]
            writeback = Writeback.export(
                request_id=request.request_id, instance_id=request.instance_id, node=request.node,
                counter=params.counter, layout=params.layout, file=file_name(request.request_id, layout.suffix),
                sha256=hashlib.sha256(rendered.content).hexdigest(), records=rendered.records,
                source=rendered.source, business_line=request.business_line)
            try:
                self.save_one(writeback)
            except ConflictError:  # a concurrent run of the same request recorded it first
                writeback, rendered = self.load(wid, Writeback), None
        if rendered is None:
            rendered = self._render(request, params, writeback.layout, writeback.source)
        if hashlib.sha256(rendered.content).hexdigest() != writeback.sha256:
            # The pinned inputs rendered other bytes (a layout edited in the settings file since):
            # refuse rather than send the counter a second, different file for one approval.
            raise ConflictError(f"{writeback.file} would differ from the file exported for {request.request_id}; "
                                f"restore layout {writeback.layout!r} as it was", field="layout")
        if writeback.counter not in self.counters:
            raise RuleViolationError(f"counter {writeback.counter!r} is no longer configured", field="counter")
        self.counters[writeback.counter].put(writeback.file, rendered.content)
        if writeback.document_id is None and self.import_archive is not None:
            target = ArchiveTarget(request.instance_id, request.business_type, request.business_line,
                                   request.department_id, request.fund_account)
            media_type = self.layouts[writeback.layout].media_type
            writeback.archived(self.import_archive.file(rendered.content, writeback.file, media_type, target))
            self.save_one(writeback)
        return writeback

    @command
    def report_result(self, reference: str, status: str, message: str, channel: str) -> Writeback:
        """The counter's result for a file (by its name or the request id). A result delivered again
        is recorded once; the flow is told every time (its completion is idempotent)."""
        writeback = self.load(writeback_id(request_id_of(reference)), Writeback,
                              what=f"write-back {reference!r}")
        if "." in reference and reference != writeback.file:
            raise NotFoundError(f"write-back {reference!r} does not exist", field="file")
        if writeback.report(status, message, channel):
            self.save_one(writeback)
        self._complete(writeback)
        return writeback

    def _complete(self, writeback: Writeback) -> None:
        if self.on_complete is None:
            log.warning("fee-rate write-back %s: %s, but no flow completion is wired", writeback.file,
                        writeback.status)
            return
        result = {"status": writeback.status, "file": writeback.file, "writeback_id": str(writeback.id),
                  "message": writeback.message}
        status, answer = ("done", result) if writeback.status == "imported" else \
            ("failed", {**result, "problem": "counter_failed"})
        try:
            self.on_complete(writeback.request_id, status, answer)
        except Exception as exc:  # the result stands; the scheduler's re-check of waiting work tells the flow
            log.warning("fee-rate write-back %s: %s recorded, its flow not told yet (%s: %s)", writeback.file,
                        writeback.status, type(exc).__name__, getattr(exc, "message", exc))


def request_id_of(reference: str) -> str:
    """The request id a result names: itself, or the file name feerate_<instance>_<task>.<ext>
    (the instance id is a UUID, which has no '_', so the first '_' after it is the separator)."""
    if ":" in reference:
        return reference
    stem = reference.rsplit(".", 1)[0] if "." in reference else reference
    if not stem.startswith("feerate_") or "_" not in stem.removeprefix("feerate_"):
        raise NotFoundError(f"write-back {reference!r} does not exist", field="file")
    instance, task = stem.removeprefix("feerate_").split("_", 1)
    return f"{instance}:{task}"
