"""The flow's ``generate_agreement`` system hook (application/flows/system_hooks.py): a system node
with ``hook_params {"template": key, "language": "zh"}`` generates the agreement from the instance's
form when the node is entered. Retries of one node visit carry the same request id and get the same
version and document back. A problem with the template or the form (a variable the form lacks) is
answered ``failed`` with the problem, for a gateway to route; a conflict or an unavailable engine is
raised, so the scheduler tries again."""
from __future__ import annotations

from application.agreements.generation import GenerationRequest
from application.agreements.service import AgreementsApplication
from application.flows.system_hooks import HookOutcome, HookRequest
from domain.agreements.template import LANGUAGES
from domain.shared.context import CommandContext
from domain.shared.errors import ConflictError, DomainError, UnavailableError


class GenerateAgreementHook:
    name = "generate_agreement"

    def __init__(self, agreements: AgreementsApplication):
        self.agreements = agreements

    @staticmethod
    def check(params: dict[str, object]) -> list[str]:
        """At publish: the node names a template and a language."""
        if not isinstance(params.get("template"), str) or params.get("language", "zh") not in LANGUAGES:
            return ["generate_agreement needs hook_params {template: key, language: zh|en}"]
        return []

    def run(self, request: HookRequest) -> HookOutcome:
        template = request.params.get("template")
        language = request.params.get("language", "zh")
        if self.check(request.params) or not isinstance(template, str):
            return HookOutcome("failed", {"problem": "hook_params needs {template: key, language: zh|en}"})
        ctx = CommandContext.system("agreements", correlation_id=request.request_id)
        try:
            generated = self.agreements.generate(ctx, GenerationRequest(
                instance_id=request.instance_id, request_id=request.request_id, template_key=template,
                language=language, form=request.form, business_type=request.business_type,
                business_line=request.business_line, department_id=request.department_id,
                fund_account=request.fund_account))
        except (ConflictError, UnavailableError):
            raise
        except DomainError as exc:
            return HookOutcome("failed", {"problem": exc.code, "detail": exc.message, "field": exc.field})
        return HookOutcome("done", {"agreement_id": str(generated.agreement_id), "version": generated.version,
                                    "document_id": str(generated.document_id), "sha256": generated.sha256})
