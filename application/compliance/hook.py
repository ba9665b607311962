"""The ``aml_screening`` system hook: a flow's system node screens the people its form names.

hook_params: ``{"fields": ["tenant_name", "contacts[].name"], "id_fields": ["id_number",
"contacts[].id_number"], "lists": ["sanctions", "pep", "internal"], "threshold": 0.85}``
(paths: domain/compliance/subjects.py; ``id_fields`` optional, null where a name has none;
``lists`` default all three; ``threshold`` default 0.85).

No hit answers ``done`` with ``{"hit": false, "hits": 0, "screening_id": "..."}``. A hit *waits*: the
screening is in compliance's review queue (``GET /api/v1/compliance/screenings?status=pending``),
and the reviewer's decision answers the flow (ComplianceApplication.tell_flow): cleared → ``done``,
the flow goes on; confirmed → ``failed``, which the node's ``on_hook_failure: reject`` turns into
the flow's end, or a gateway on ``outputs.<node>.decision`` routes. Nothing of it reaches the
customer: a hit stops the service without telling them. A list that was never loaded raises
(the scheduler retries; the flow waits at the node until the list is loaded: fail closed).
Parameters no screening can run with (a bad path, an unknown list, no name on the form) answer
``failed`` with ``hit: true``, so a gateway on ``hit`` sends the instance to review, never on."""
from __future__ import annotations

from typing import Any

from application.flows.system_hooks import HookOutcome, HookRequest
from domain.compliance.lists import LIST_KINDS
from domain.compliance.matching import DEFAULT_THRESHOLD
from domain.compliance.screening import ScreeningOrder
from domain.compliance.subjects import subjects_of
from domain.shared.context import CommandContext
from domain.shared.errors import RuleViolationError


class AmlScreeningHook:
    name = "aml_screening"

    def __init__(self, compliance: Any):
        self.compliance = compliance    # ComplianceApplication (perform_screening)

    def run(self, request: HookRequest) -> HookOutcome:
        params = request.params
        try:
            fields = params.get("fields")
            id_fields = params.get("id_fields")
            if not isinstance(fields, list) or (id_fields is not None and not isinstance(id_fields, list)):
                raise RuleViolationError("fields (and id_fields) are lists of field paths", field="fields")
            subjects = subjects_of(request.form, fields, id_fields)
            if not subjects:
                raise RuleViolationError(f"the form has no name in {', '.join(map(str, fields))}: nobody to screen",
                                         field="fields")
            order = ScreeningOrder(
                request_id=request.request_id, instance_id=request.instance_id, node=request.node,
                business_type=request.business_type, business_line=request.business_line,
                initiator=request.initiator, subjects=subjects, lists=list(params.get("lists") or LIST_KINDS),
                threshold=params.get("threshold", DEFAULT_THRESHOLD))
            ctx = CommandContext("system:aml-screening", request.request_id, request.business_line)
            screening = self.compliance.perform_screening(ctx, order)
        except RuleViolationError as exc:
            return HookOutcome("failed", {"hit": True, "hits": 0, "screening_id": None, "error": exc.code,
                                          "message": exc.message})
        answer = {"hit": screening.hit, "hits": len(screening.hits), "screening_id": str(screening.id)}
        if not screening.hit:
            return HookOutcome("done", answer)
        if screening.decision is not None:  # reviewed before this retry was recorded: the review's answer
            confirmed = screening.decision["decision"] == "confirm"
            return HookOutcome("failed" if confirmed else "done",
                               {**answer, "decision": "confirmed" if confirmed else "cleared"})
        return HookOutcome("waiting", answer)
