"""Signing requests, the firm's side: ask a signer to sign an archived PDF (by staff, or by a
flow's ``e_sign`` node, once per node visit), re-issue the link, revoke, and expire what is due."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from application.shared.base import CommandResult, Loader, command
from application.shared.tokens import token_hash
from application.signatures.ports import (
    PUBLIC_PREFIX,
    ArchiveDocuments,
    Clock,
    IssuedLink,
    OnComplete,
    Signer,
    SigningReads,
)
from domain.archive.rules import check_code, check_identifier
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import ConcurrencyConflictError, RuleViolationError
from domain.shared.ids import natural_id
from domain.shared.text import require_text
from domain.signatures.request import SigningLink, SigningRequest

log = logging.getLogger(__name__)
MAX_LINK_HOURS = 24 * 30


@dataclass(frozen=True)
class FlowFiling:
    """Where a flow's signed agreement belongs, from the flow itself (not from the document)."""

    flow_request: str
    flow_instance: UUID
    business_line: str
    business_type: str
    department_id: UUID | None
    customer: str | None
    fund_account: str | None


def flow_request_id(flow_request: str) -> UUID:
    """One signing request per flow node visit: its id derives from the hook's request id."""
    return natural_id("signing_request", flow_request)


class SigningRequests:
    # Given at composition:
    archive: ArchiveDocuments
    clock: Clock
    link_hours: int
    public_base_url: str
    on_complete: OnComplete | None
    reads: SigningReads
    # From the host (LedgerApplication):
    load: Loader
    exists: Callable[[UUID], bool]
    save_all: Callable[..., int]
    save_one: Callable[[Any], CommandResult]

    def signing_request(self, request_id: UUID) -> SigningRequest:
        return self.load(request_id, SigningRequest, what=f"signing request {request_id}")

    @command
    def request_signature(self, document_id: UUID, signer: Signer, *, expires_hours: int | None = None,
                          flow: FlowFiling | None = None) -> IssuedLink:
        """A signing request for the current version of an archived PDF, and its link (returned
        once). Filed like the document, or, for a flow, under the flow's customer and business."""
        _check_signer(signer)
        expires_at = self._expiry(expires_hours)
        document = self.archive.document(document_id)
        document._require_live()
        current = document.current
        if current["media_type"] != "application/pdf":
            raise RuleViolationError("only a PDF can be signed", field="document_id")
        if flow is not None:
            check_identifier(flow.customer, "customer")
            check_code(flow.business_type, "business_type")
        token = secrets.token_urlsafe(32)
        request = SigningRequest.create(
            id=flow_request_id(flow.flow_request) if flow else uuid4(), document_id=document.id,
            document_sha256=current["sha256"], filename=current["filename"], signer_name=signer.name.strip(),
            signer_phone=signer.phone, signer_email=signer.email, token_hash=token_hash(token), expires_at=expires_at,
            business_line=flow.business_line if flow else document.business_line,
            department_id=flow.department_id if flow else document.department_id,
            customer=(flow.fund_account or flow.customer) if flow else document.customer,
            fund_account=flow.fund_account if flow else document.fund_account,
            business_type=flow.business_type if flow else document.business_type,
            flow_instance=flow.flow_instance if flow else document.flow_instance,
            flow_request=flow.flow_request if flow else None)
        link = SigningLink.issue(request.token_hash, request.id, request.business_line)
        return self._issued(request, token, link)

    @command
    def reissue_link(self, request_id: UUID, *, reason: str, expires_hours: int | None = None) -> IssuedLink:
        """A new link for a pending request (the old one stops working: 410 replaced)."""
        require_text(reason, "reason", 500)
        expires_at = self._expiry(expires_hours)
        request = self.signing_request(request_id)
        token = secrets.token_urlsafe(32)
        request.reissue(token_hash(token), expires_at, reason)
        link = SigningLink.issue(request.token_hash, request.id, request.business_line)
        return self._issued(request, token, link)

    def _expiry(self, hours: int | None) -> datetime:
        hours = self.link_hours if hours is None else hours
        if not 1 <= hours <= MAX_LINK_HOURS:
            raise RuleViolationError(f"a link lasts 1 to {MAX_LINK_HOURS} hours", field="expires_hours")
        return self.clock() + timedelta(hours=hours)

    def _issued(self, request: SigningRequest, token: str, link: SigningLink) -> IssuedLink:
        position = self.save_all(request, link)   # both or neither: a link always finds its request
        path = f"{PUBLIC_PREFIX}/{token}"
        return IssuedLink(request.id, token, path, self.public_base_url.rstrip("/") + path, request.expires_at,
                          CommandResult(request.id, request.version, position))

    @command
    def revoke(self, request_id: UUID, reason: str, expected_version: int | None = None) -> CommandResult:
        require_text(reason, "reason", 500)
        if not reason.strip():
            raise RuleViolationError("a revocation needs a reason", field="reason")
        request = self.load(request_id, SigningRequest, expected_version=expected_version,
                            what=f"signing request {request_id}")
        request.revoke(reason)
        result = self.save_one(request)
        self._complete(request, "failed", {"problem": "revoked"})
        return result

    def expire_due(self, now: datetime | None = None) -> list[UUID]:
        """Expire every pending request past its expiry (a periodic job; access expires lazily too)."""
        now = now or self.clock()
        expired = []
        for request_id in self.reads.due(now):
            request = self.signing_request(request_id)
            if self.expire_if_due(request, now, CommandContext.system("e-sign-expiry")):
                expired.append(request_id)
        return expired

    def expire_if_due(self, request: SigningRequest, now: datetime, ctx: CommandContext) -> bool:
        if not request.is_due(now):
            return False
        with acting_as(ctx):
            request.expire(now)
            try:
                self.save_one(request)
            except ConcurrencyConflictError:
                return False   # someone else moved it on (signed in the last moment, or expired it)
        self._complete(request, "failed", {"problem": "expired"})
        return True

    def _complete(self, request: SigningRequest, status: str, result: dict[str, Any]) -> None:
        """Tell the waiting flow. Its failure must not undo what is recorded: logged, and the
        hook, run again, answers from the request's state."""
        if request.flow_request is None or self.on_complete is None:
            return
        try:
            self.on_complete(request.flow_request, status, result)
        except Exception:  # the flow side's problem, not the signer's
            log.exception("signing request %s: telling the flow (%s) failed", request.id, status)


def _check_signer(signer: Signer) -> None:
    require_text(signer.name, "signer_name", 100)
    if not signer.name.strip():
        raise RuleViolationError("the signer's name is required", field="signer_name")
    for value, field in ((signer.phone, "signer_phone"), (signer.email, "signer_email")):
        if value is not None:
            require_text(value, field, 200)
