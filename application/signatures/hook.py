"""The ``e_sign`` system hook: a flow node asks the tenant to sign the agreement an earlier node
generated, and waits (``tenant_sign``). One signing request per node visit (``request_id``); the
flow hears the end through ``on_complete`` (given to SignaturesApplication): ``done`` with the
signed document, or ``failed`` with ``expired`` / ``revoked``.

hook_params: ``document_from`` (the generating node: its result's ``document_id``),
``signer_name_field`` (the form field with the tenant's signer name), optional
``signer_phone_field``, ``signer_email_field``, ``customer_field`` (the customer number the
agreement is filed under when the flow has no fund account, e.g. the tenant's USCC) and
``expires_hours``.

The link never travels in the answer: the answer is recorded in the flow's events and shown on
the instance page, and whoever holds the link can sign. Whoever sends it to the tenant (the
initiator, with ``signatures.manage``) issues it from the signing request
(``POST /api/v1/signatures/requests/{id}/link``), which makes any earlier link answer 410. Run
again for the same visit, the hook answers from the request's state: waiting, done once sealed,
failed once expired or revoked."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from application.flows.system_hooks import HookOutcome, HookRequest
from application.signatures.ports import Signer
from application.signatures.requests import FlowFiling, flow_request_id
from application.signatures.service import SignaturesApplication
from domain.shared.context import CommandContext
from domain.shared.errors import AlreadyExistsError, ConcurrencyConflictError, DomainError, NotFoundError
from domain.signatures.request import SigningRequest


def _field(form: dict[str, Any], path: str | None) -> Any:
    """A form value by dotted path ("basic.contact_name"), or None."""
    value: Any = form
    for part in (path or "").split("."):
        if not part or not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class ESignHook:
    name = "e_sign"

    def __init__(self, signatures: SignaturesApplication):
        self.signatures = signatures

    def run(self, request: HookRequest) -> HookOutcome:
        ctx = CommandContext.system("e-sign", correlation_id=request.request_id)
        params = request.params
        try:
            existing = self.signatures.signing_request(flow_request_id(request.request_id))
        except NotFoundError:
            existing = None
        if existing is not None:
            return self._again(existing)
        source = params.get("document_from")
        document_id = _field(request.outputs, f"{source}.document_id") if isinstance(source, str) else None
        signer_name = _field(request.form, params.get("signer_name_field"))
        if not isinstance(document_id, str) or not isinstance(signer_name, str) or not signer_name.strip():
            return HookOutcome("failed", {"problem": "misconfigured",
                                          "detail": "no document_id from document_from, or no signer name"})
        customer = _field(request.form, params.get("customer_field"))
        flow = FlowFiling(flow_request=request.request_id, flow_instance=request.instance_id,
                          business_line=request.business_line, business_type=request.business_type,
                          department_id=request.department_id, fund_account=request.fund_account,
                          customer=customer if isinstance(customer, str) else None)
        signer = Signer(signer_name, _text(_field(request.form, params.get("signer_phone_field"))),
                        _text(_field(request.form, params.get("signer_email_field"))))
        hours = params.get("expires_hours")
        try:
            issued = self.signatures.request_signature(ctx, UUID(document_id), signer, flow=flow,
                                                       expires_hours=hours if isinstance(hours, int) else None)
        except (AlreadyExistsError, ConcurrencyConflictError):
            # Another run of the same visit made it a moment ago: answer as a repeat does.
            return self._again(self.signatures.signing_request(flow_request_id(request.request_id)))
        except (DomainError, ValueError) as exc:
            return HookOutcome("failed", {"problem": getattr(exc, "code", "invalid"), "detail": str(exc)})
        return HookOutcome("waiting", {"signing_request_id": str(issued.request_id),
                                       "expires_at": issued.expires_at.isoformat()})

    def _again(self, request: SigningRequest) -> HookOutcome:
        # Asked again while waiting (the scheduler re-drives waiting work, ADR 0024): a link past
        # its expiry expires now, so the flow hears it even if nobody opens the link again.
        if self.signatures.expire_if_due(request, self.signatures.clock(), CommandContext.system("e-sign-expiry")):
            request = self.signatures.signing_request(request.id)
        if request.status == "sealed" and request.sealed:
            return HookOutcome("done", {"signed_document_id": str(request.sealed["signed_document_id"]),
                                        "sha256": request.sealed["sha256"]})
        if request.status in ("expired", "revoked"):
            return HookOutcome("failed", {"problem": request.status})
        return HookOutcome("waiting", {"signing_request_id": str(request.id),
                                       "expires_at": request.expires_at.isoformat()})


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
