"""SigningRequest: a tenant is asked to e-sign one archived PDF through a one-time link, and the
firm seals what they signed. Every step is an event (签署流程追溯): requested, viewed, signed,
sealed, expired, revoked, and a link re-issued. Only the link's SHA-256 is ever recorded, never
the link itself.

SigningLink: the link's hash -> its request, as an aggregate whose id derives from the hash, so
the public endpoint finds the request from the link strongly consistently (no read-model lag
between "the link was created" and "the tenant opened it")."""
from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.ids import natural_id
from domain.signatures.consent import CONSENT_SHA256, CONSENT_VERSION, same_name
from domain.signatures.errors import (
    ConsentOutdatedError,
    SignerNameMismatchError,
    SigningLinkGoneError,
    SigningLinkUsedError,
    SigningRequestClosedError,
)

# Views are recorded once per distinct client, and only this many: the public endpoint must not
# let anyone grow the event history without bound.
MAX_RECORDED_VIEWS = 10


def link_id(token_hash: str) -> UUID:
    return natural_id("signing_link", token_hash)


class SigningLink(LedgerAggregate):
    class Issued(LedgerAggregate.Created):
        request_id: UUID

    @event(Issued)
    def __init__(self, request_id: UUID, business_line: str | None):
        self.request_id, self.business_line = request_id, business_line

    @classmethod
    def issue(cls, token_hash: str, request_id: UUID, business_line: str | None) -> SigningLink:
        return cls._create(cls.Issued, id=link_id(token_hash), request_id=request_id, business_line=business_line)


class SigningRequest(LedgerAggregate):
    class Requested(LedgerAggregate.Created):
        document_id: UUID
        document_sha256: str
        filename: str
        signer_name: str
        signer_phone: str | None
        signer_email: str | None
        token_hash: str
        expires_at: datetime
        department_id: UUID | None
        customer: str | None
        fund_account: str | None
        business_type: str | None
        flow_instance: UUID | None
        flow_request: str | None

    @event(Requested)
    def __init__(self, document_id: UUID, document_sha256: str, filename: str, signer_name: str,
                 signer_phone: str | None, signer_email: str | None, token_hash: str, expires_at: datetime,
                 business_line: str, department_id: UUID | None, customer: str | None, fund_account: str | None,
                 business_type: str | None, flow_instance: UUID | None, flow_request: str | None):
        self.document_id, self.document_sha256, self.filename = document_id, document_sha256, filename
        self.signer_name, self.signer_phone, self.signer_email = signer_name, signer_phone, signer_email
        self.token_hash, self.expires_at = token_hash, expires_at
        self.business_line, self.department_id = business_line, department_id
        self.customer, self.fund_account, self.business_type = customer, fund_account, business_type
        self.flow_instance, self.flow_request = flow_instance, flow_request
        self.status = "pending"
        self.viewers: list[str] = []
        self.signed: dict[str, Any] | None = None
        self.sealed: dict[str, Any] | None = None
        self.closed_reason: str | None = None

    @classmethod
    def create(cls, id: UUID, **fields: Any) -> SigningRequest:
        """A request under a given id (a flow's: derived from its node visit, so a repeat collides)."""
        return cls._create(cls.Requested, id=id, **fields)

    # -- the link ---------------------------------------------------------------------------------
    def require_link(self, token_hash: str) -> None:
        """The link is this request's current one (constant-time) and still opens it."""
        if not hmac.compare_digest(self.token_hash.encode(), token_hash.encode()):
            raise SigningLinkGoneError("this signing link was replaced by a newer one", code="signing_link_replaced")
        if self.status == "revoked":
            raise SigningLinkGoneError("this signing request was revoked", code="signing_link_revoked")
        if self.status == "expired":
            raise SigningLinkGoneError("this signing link has expired", code="signing_link_expired")
        if self.status in ("signed", "sealed"):
            raise SigningLinkUsedError("this signing link was already used to sign")

    def is_due(self, now: datetime) -> bool:
        return self.status == "pending" and now >= self.expires_at

    def view(self, client_ip: str, user_agent: str) -> bool:
        """Record that a client opened the link (once per client, a bounded number in all)."""
        client = f"{client_ip} {user_agent}"
        if client in self.viewers or len(self.viewers) >= MAX_RECORDED_VIEWS:
            return False
        self._viewed(client_ip=client_ip, user_agent=user_agent)
        return True

    class LinkViewed(LedgerAggregate.Event):
        client_ip: str
        user_agent: str

    @event(LinkViewed)
    def _viewed(self, client_ip: str, user_agent: str) -> None:
        self.viewers = [*self.viewers, f"{client_ip} {user_agent}"]

    def reissue(self, token_hash: str, expires_at: datetime, reason: str) -> None:
        self._require_pending("re-issue its link")
        self._reissued(token_hash=token_hash, expires_at=expires_at, reason=reason)

    class LinkReissued(LedgerAggregate.Event):
        token_hash: str
        expires_at: datetime
        reason: str

    @event(LinkReissued)
    def _reissued(self, token_hash: str, expires_at: datetime, reason: str) -> None:
        self.token_hash, self.expires_at = token_hash, expires_at

    # -- signing and sealing --------------------------------------------------------------------------
    def sign(self, typed_name: str, consent_version: str, at: datetime, client_ip: str, user_agent: str) -> None:
        if self.status != "pending":
            raise SigningLinkUsedError("this signing link was already used to sign")
        if consent_version != CONSENT_VERSION:
            raise ConsentOutdatedError(f"the consent text changed; read version {CONSENT_VERSION} and consent again",
                                       field="consent_version")
        if not same_name(typed_name, self.signer_name):
            raise SignerNameMismatchError("type your full name as it appears on the agreement", field="signer_name")
        self._signed(signer_name=typed_name.strip(), consent_version=consent_version, consent_sha256=CONSENT_SHA256,
                     signed_at=at, client_ip=client_ip, user_agent=user_agent)

    class Signed(LedgerAggregate.Event):
        signer_name: str
        consent_version: str
        consent_sha256: str
        signed_at: datetime
        client_ip: str
        user_agent: str

    @event(Signed)
    def _signed(self, signer_name: str, consent_version: str, consent_sha256: str, signed_at: datetime,
                client_ip: str, user_agent: str) -> None:
        self.status = "signed"
        self.signed = {"signer_name": signer_name, "consent_version": consent_version, "signed_at": signed_at,
                       "client_ip": client_ip, "user_agent": user_agent}

    def seal(self, signed_document_id: UUID, sealed_sha256: str, certificate_fingerprint: str,
             development_certificate: bool) -> None:
        if self.status != "signed":
            raise SigningRequestClosedError(f"only a signed request is sealed; this one is {self.status}")
        self._sealed(signed_document_id=signed_document_id, sealed_sha256=sealed_sha256,
                     certificate_fingerprint=certificate_fingerprint, development_certificate=development_certificate)

    class Sealed(LedgerAggregate.Event):
        signed_document_id: UUID
        sealed_sha256: str
        certificate_fingerprint: str
        development_certificate: bool

    @event(Sealed)
    def _sealed(self, signed_document_id: UUID, sealed_sha256: str, certificate_fingerprint: str,
                development_certificate: bool) -> None:
        self.status = "sealed"
        self.sealed = {"signed_document_id": signed_document_id, "sha256": sealed_sha256,
                       "certificate_fingerprint": certificate_fingerprint,
                       "development_certificate": development_certificate}

    # -- ending without a signature ---------------------------------------------------------------------
    def expire(self, now: datetime) -> None:
        if not self.is_due(now):
            raise SigningRequestClosedError("the request is not pending past its expiry")
        self._expired(expires_at=self.expires_at)

    class Expired(LedgerAggregate.Event):
        expires_at: datetime

    @event(Expired)
    def _expired(self, expires_at: datetime) -> None:
        self.status, self.closed_reason = "expired", "expired"

    def revoke(self, reason: str) -> None:
        self._require_pending("revoke it")
        self._revoked(reason=reason)

    class Revoked(LedgerAggregate.Event):
        reason: str

    @event(Revoked)
    def _revoked(self, reason: str) -> None:
        self.status, self.closed_reason = "revoked", reason

    def _require_pending(self, what: str) -> None:
        if self.status != "pending":
            raise SigningRequestClosedError(f"the request is {self.status}: too late to {what}")
