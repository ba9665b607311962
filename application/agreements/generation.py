"""生成协议 (004 §6, §7.2): an agreement generated from a flow instance's form at that moment.

The order makes a retry safe: the version (its rendered sections, the PDF's hash and the time that
fixes the PDF's bytes) is recorded first, then the PDF is archived and the document recorded on the
version. A retry for the same request finds its version and only finishes what is missing; rendering
a recorded version again yields the same bytes, checked against the recorded hash."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from application.agreements.pdf import PdfDocument, PdfRenderer
from application.agreements.ports import Archive
from application.agreements.templating import RESERVED, render
from application.archive.filing import Filing
from application.shared.base import CommandResult, Loader, command
from domain.agreements.agreement import Agreement, agreement_id
from domain.agreements.template import AgreementTemplate
from domain.shared.context import current_context
from domain.shared.errors import ConflictError, NotFoundError, RuleViolationError


@dataclass(frozen=True)
class GenerationRequest:
    instance_id: UUID
    request_id: str                  # the idempotency key (the flow's system-task request)
    template_key: str
    language: str
    form: dict[str, Any]
    business_type: str
    business_line: str
    department_id: UUID | None
    fund_account: str | None


@dataclass(frozen=True)
class Generation:
    agreement_id: UUID
    version: int
    document_id: UUID
    sha256: str
    result: CommandResult


def form_sha256(form: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(form, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Generating:
    archive: Archive
    renderer: PdfRenderer
    clock: Callable[[], datetime]
    # from the host
    load: Loader
    exists: Callable[[UUID], bool]
    save_one: Callable[..., CommandResult]
    template: Callable[..., AgreementTemplate]

    def agreement(self, agreement_id: UUID, expected_version: int | None = None) -> Agreement:
        return self.load(agreement_id, Agreement, expected_version=expected_version,
                         what=f"agreement {agreement_id}")

    @command
    def generate(self, request: GenerationRequest) -> Generation:
        template = self.template(request.template_key, request.language)
        if template.business_type != request.business_type:
            raise RuleViolationError(f"agreement template {template.key!r} is for {template.business_type!r}, "
                                     f"not {request.business_type!r}", field="template")
        key = agreement_id(request.instance_id, request.template_key, request.language)
        if self.exists(key):
            agreement = self.agreement(key)
        else:
            agreement = Agreement.open(request.instance_id, template.key, template.language,
                                       template.published_version()["title"], request.business_type,
                                       request.business_line, request.department_id, request.fund_account)
        existing = agreement.by_request(request.request_id)
        if existing is None:
            published = template.published_version()
            variables = {**request.form, RESERVED: {"number": agreement.number, "title": agreement.title,
                                                    "template": template.key, "language": template.language}}
            sections = [{"number": s["number"], "title": s["title"],
                         "text": render(s["body"], variables, s["number"])} for s in published["sections"]]
            # Seconds only: the time is printed and stored, and must give the same PDF when read back.
            at = self.clock().replace(microsecond=0)
            number = len(agreement.generations) + 1
            pdf = self.renderer.render(self._pdf_document(agreement, template.key, published["number"], number,
                                                          at, sections))
            agreement.generate(request_id=request.request_id, template_version=published["number"],
                               form_sha256=form_sha256(request.form), sections=sections, generated_at=at,
                               pdf_sha256=hashlib.sha256(pdf).hexdigest(), pdf_size=len(pdf),
                               renderer=self.renderer.identity)
            self.save_one(agreement)
            existing = agreement.by_request(request.request_id)
            assert existing is not None
        else:
            pdf = b""
        return self._filed(agreement, existing, pdf)

    def _filed(self, agreement: Agreement, generation: dict[str, Any], pdf: bytes) -> Generation:
        number = int(generation["number"])
        if generation["document_id"] is None:
            pdf = pdf or self._rerender(agreement, number)
            uploaded = self.archive.upload(
                current_context(), [pdf], filename=f"{agreement.number}-v{number}.pdf",
                declared_type="application/pdf", source="agreement",
                metadata={"title": f"{agreement.title} v{number}"[:200]},
                filing=Filing(customer=agreement.fund_account, fund_account=agreement.fund_account,
                              business_line=agreement.business_line, department_id=agreement.department_id,
                              business_type=agreement.business_type, flow_instance=agreement.instance_id,
                              category="agreement"))
            agreement.file(number, uploaded.result.id)
        result = self.save_one(agreement)
        filed = agreement.generation(number)
        return Generation(agreement.id, number, filed["document_id"], filed["pdf_sha256"], result)

    def _pdf_document(self, agreement: Agreement, template_key: str, template_version: int, number: int,
                      at: datetime, sections: list[dict[str, str]]) -> PdfDocument:
        return PdfDocument(title=agreement.title, agreement_number=agreement.number, language=agreement.language,
                           template=f"{template_key} v{template_version}", version=number, generated_at=at,
                           sections=sections)

    def _rerender(self, agreement: Agreement, number: int) -> bytes:
        g = agreement.generation(number)
        pdf = self.renderer.render(self._pdf_document(agreement, agreement.template_key, g["template_version"],
                                                      number, g["generated_at"], g["sections"]))
        if hashlib.sha256(pdf).hexdigest() != g["pdf_sha256"]:
            raise ConflictError(f"version {number} no longer renders to the recorded PDF (renderer was "
                                f"{g['renderer']}, now {self.renderer.identity})")
        return pdf

    def pdf(self, agreement_id: UUID, number: int) -> bytes:
        """The PDF of a version: the archived file (checked against the recorded hash), or, before it
        was archived, the same bytes rendered again. For e-signing and downloads."""
        agreement = self.agreement(agreement_id)
        generation = agreement.generation(number)
        if generation["document_id"] is None:
            return self._rerender(agreement, number)
        document = self.archive.document(generation["document_id"])
        version = next((v for v in document.versions if v["sha256"] == generation["pdf_sha256"]), None)
        if version is None:
            raise NotFoundError(f"the archived document of version {number} no longer holds its PDF")
        _, stream = self.archive.content(document, version["number"])
        with stream:
            return stream.read()

    def pdf_document(self, agreement_id: UUID, number: int) -> tuple[UUID | None, str]:
        """(archived document id or None before filing, the PDF's SHA-256) of a version."""
        generation = self.agreement(agreement_id).generation(number)
        return generation["document_id"], generation["pdf_sha256"]
