"""Sealing what a signer signed (the firm's PAdES signature, the consent in its fields), filing
the sealed PDF in the archive under the customer and the business, and verifying sealed PDFs."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import PurePath
from typing import Any
from uuid import UUID

from application.archive.filing import Filing
from application.shared.base import command
from application.signatures.ports import ArchiveDocuments, SignedOutcome, SigningReads
from domain.archive.content import read_chunks
from domain.shared.context import CommandContext, acting_as, current_context
from domain.shared.errors import UnavailableError
from domain.signatures.errors import SigningRequestClosedError
from domain.signatures.request import SigningRequest
from domain.signatures.seal import SealDetails, SealPort, Verification

log = logging.getLogger(__name__)
CATEGORY = "signed_agreement"


class Sealing:
    # Given at composition:
    archive: ArchiveDocuments
    sealer: SealPort
    seal_location: str
    reads: SigningReads
    # From the host (LedgerApplication, SigningRequests, PublicSigning):
    save_one: Callable[[Any], Any]
    signing_request: Callable[[UUID], SigningRequest]
    requested_pdf: Callable[[SigningRequest], bytes]
    _complete: Callable[[SigningRequest, str, dict[str, Any]], None]

    @command
    def complete_seal(self, request_id: UUID) -> SignedOutcome:
        """Seal a request that was signed but not sealed (the seal failed earlier)."""
        return self.seal_signed(self.signing_request(request_id), current_context().correlation_id)

    def seal_signed(self, request: SigningRequest, correlation_id: str) -> SignedOutcome:
        signed = request.signed or {}
        if request.status != "signed":
            raise SigningRequestClosedError(f"only a signed request is sealed; this one is {request.status}")
        details = SealDetails(
            signer_name=signed["signer_name"], location=self.seal_location,
            reason=(f"租户签署 Signed by {signed['signer_name']} at {signed['signed_at'].isoformat()} "
                    f"with consent {signed['consent_version']}; request {request.id}"))
        try:
            sealed = self.sealer.seal(self.requested_pdf(request), details)
        except Exception as exc:
            # The consent stays recorded; an operator retries (complete_seal). Never a 500 to the signer.
            log.error("signing request %s: sealing failed (%s)", request.id, type(exc).__name__, exc_info=exc)
            raise UnavailableError("the signature is recorded; sealing the agreement failed and will be retried",
                                   code="sealing_failed") from None
        ctx = CommandContext.system("e-sign", correlation_id)
        stem = PurePath(request.filename).stem or "agreement"
        uploaded = self.archive.upload(
            ctx, [sealed], filename=f"{stem}-signed.pdf", declared_type="application/pdf", source="e_signature",
            filing=Filing(customer=request.customer, fund_account=request.fund_account,
                          business_line=request.business_line or "", department_id=request.department_id,
                          business_type=request.business_type, flow_instance=request.flow_instance,
                          category=CATEGORY),
            metadata={"title": f"已签署协议 Signed agreement ({signed['signer_name']})", "tags": ["e_signature"]})
        document_id = uploaded.result.id
        with acting_as(ctx):
            request.seal(document_id, uploaded.sha256, self.sealer.certificate_fingerprint, self.sealer.development)
            self.save_one(request)
        self._complete(request, "done", {"signed_document_id": str(document_id), "sha256": uploaded.sha256})
        return SignedOutcome(request.id, "sealed", signed["signed_at"], document_id, uploaded.sha256)

    # -- verification -------------------------------------------------------------------------------------
    def verify_pdf(self, pdf: bytes) -> Verification:
        return self.sealer.verify(pdf)

    def verify_document(self, document_id: UUID, version: int | None = None
                        ) -> tuple[Verification, dict[str, Any] | None]:
        """An archived PDF's signatures and hash, and the signing request that sealed exactly
        these bytes (None: no seal of ours recorded this hash)."""
        document = self.archive.document(document_id)
        _, stream = self.archive.content(document, version)
        with stream:
            pdf = b"".join(read_chunks(stream))
        report = self.sealer.verify(pdf)
        return report, self.reads.by_sealed_sha256(report.sha256)
