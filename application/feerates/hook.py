"""The ``ctp_writeback`` system hook: a fee-rate approval's node hands its form here; the import
file is rendered, dropped for the counter and archived, and the flow waits for the counter's
result (``waiting``; the result arrives through the feed or the API and calls on_complete)."""
from __future__ import annotations

from application.feerates.app import FeeRatesApplication
from application.flows.system_hooks import HookOutcome, HookRequest
from domain.shared.context import CommandContext
from domain.shared.errors import ConflictError, NotFoundError, RuleViolationError

NAME = "ctp_writeback"


class CtpWritebackHook:
    name = NAME

    def __init__(self, feerates: FeeRatesApplication):
        self.feerates = feerates

    def run(self, request: HookRequest) -> HookOutcome:
        ctx = CommandContext(actor=f"system:{NAME}", correlation_id=request.request_id,
                             business_line=request.business_line)
        try:
            params = self.feerates.hook_params(request.params)
            writeback = self.feerates.export_writeback(ctx, request, params)
        except ConflictError:
            raise  # never a second file: loud, and retried until someone restores what changed
        except (RuleViolationError, NotFoundError) as exc:
            # The form or the configuration cannot make a file (no published template, a rate out of
            # range): a failed outcome the flow routes to a person, not a retry that cannot succeed.
            return HookOutcome("failed", {"status": "failed", "problem": exc.code, "message": exc.message,
                                           "field": exc.field})
        result = {"file": writeback.file, "sha256": writeback.sha256, "records": writeback.records,
                  "writeback_id": str(writeback.id), "counter": writeback.counter, "layout": writeback.layout}
        if writeback.status == "exported":
            return HookOutcome("waiting", result)
        # Run again after the counter answered (a retry that raced the result): answer with it.
        return HookOutcome("done" if writeback.status == "imported" else "failed",
                           {**result, "status": writeback.status, "message": writeback.message,
                            **({"problem": "counter_failed"} if writeback.status == "failed" else {})})
