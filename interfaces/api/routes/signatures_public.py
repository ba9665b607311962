"""E-signature, the signer's side: no login, the one-time link is the credential. These are the
only endpoints besides /health and /ready that take no bearer token (they declare no security,
and depend on nothing that resolves a principal). Guessing links is throttled per client
address like guessing tokens; the access log records the route template, never the link."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from application.signatures.ports import PUBLIC_PREFIX, Client
from domain.signatures.consent import CONSENT_TEXT, CONSENT_VERSION
from domain.signatures.errors import SigningLinkGoneError, SigningLinkUnknownError
from infrastructure.redis.throttle import Rule
from interfaces.api import idempotency
from interfaces.api.deps import ContainerDep
from interfaces.api.problems import PROBLEM_JSON, ApiProblem, Responses
from interfaces.bootstrap import Container

router = APIRouter(prefix=PUBLIC_PREFIX, tags=["signing (public)"])
T = TypeVar("T")

Token = Annotated[str, Path(min_length=32, max_length=128, pattern=r"^[A-Za-z0-9_-]+$",
                            description="The signing link's token")]
_PROBLEM = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
LINK: Responses = {
    404: {"description": "`signing_link_not_found`: no such link", **_PROBLEM},
    409: {"description": "`signing_link_used`: the link was already used to sign", **_PROBLEM},
    410: {"description": "`signing_link_expired`, `signing_link_revoked`, `signing_link_replaced` (a newer link "
                         "was issued), `signing_document_gone`", **_PROBLEM},
    422: {"description": "`validation_failed`: not a link token", **_PROBLEM},
    429: {"description": "`too_many_attempts`: too many unknown links from this address; see Retry-After",
          **_PROBLEM},
    503: {"description": "The service is unavailable; retry", **_PROBLEM},
}


class SigningPage(BaseModel):
    """What the signer is shown before they sign."""

    request_id: UUID
    status: Literal["pending"]
    signer_name: str = Field(description="The name the signer must type")
    filename: str
    document_sha256: str = Field(description="SHA-256 of the PDF to sign")
    document: str = Field(description="Path of the PDF to read before signing")
    expires_at: datetime
    consent_text: str
    consent_version: str


class Consent(BaseModel):
    signer_name: str = Field(min_length=1, max_length=100, description="Your full name, typed", examples=["张三"])
    consent: Literal[True] = Field(description="You agree to the consent text shown with the agreement")
    consent_version: str = Field(min_length=1, max_length=40, description="The consent_version you were shown",
                                 examples=[CONSENT_VERSION])


class SignedPublic(BaseModel):
    request_id: UUID
    status: Literal["sealed", "signed"]
    signed_at: datetime
    sha256: str | None = Field(None, description="SHA-256 of the sealed agreement (keep it to verify your copy)")


def _client(request: Request) -> Client:
    return Client(request.client.host if request.client else "unknown", request.headers.get("user-agent", ""))


def _guarded(container: Container, request: Request, action: Callable[[], T]) -> T:
    """Run ``action`` on a link: unknown links count against the client's address (a doubling
    delay past the free failures, 429), links that no longer work answer 410."""
    address = [(Rule("sign", container.settings.address_free_failures), _client(request).ip)]
    wait = container.throttle.retry_after(address)
    if wait:
        raise ApiProblem(429, "too_many_attempts", f"too many unknown signing links; retry in {wait} s",
                         headers={"Retry-After": str(wait)})
    try:
        return action()
    except SigningLinkUnknownError:
        container.throttle.fail(address)
        raise
    except SigningLinkGoneError as exc:
        raise ApiProblem(410, exc.code, exc.message) from None


@router.get("/{token}", response_model=SigningPage, responses=LINK,
            summary="Open a signing link: the agreement to sign, the name to type and the consent text.")
def open_link(token: Token, request: Request, container: ContainerDep) -> SigningPage:
    signing = _guarded(container, request, lambda: container.signatures.view_link(
        token, _client(request), request.state.correlation_id))
    return SigningPage(request_id=signing.id, status="pending", signer_name=signing.signer_name,
                       filename=signing.filename, document_sha256=signing.document_sha256,
                       document=f"{PUBLIC_PREFIX}/{token}/document", expires_at=signing.expires_at,
                       consent_text=CONSENT_TEXT, consent_version=CONSENT_VERSION)


@router.get("/{token}/document", response_class=Response, responses={
                200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}, **LINK},
            summary="The PDF to sign (an attachment, sandboxed).")
def document(token: Token, request: Request, container: ContainerDep) -> Response:
    signing, pdf = _guarded(container, request, lambda: container.signatures.link_document(
        token, _client(request), request.state.correlation_id))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="agreement.pdf"', "Content-Security-Policy": "sandbox",
        "X-Content-Type-Options": "nosniff", "ETag": f'"{signing.document_sha256}"'})


@router.post("/{token}", response_model=SignedPublic, responses={
                 **LINK, 400: {"description": "Malformed JSON body", **_PROBLEM},
                 413: {"description": "Body too large", **_PROBLEM}, 415: {"description": "Not JSON", **_PROBLEM},
                 422: {"description": "`signer_name_mismatch`, `consent_outdated`, `validation_failed`",
                       **_PROBLEM},
                 503: {"description": "`sealing_failed`: your signature is recorded; the seal follows", **_PROBLEM}},
             summary="Sign: consent and your typed name. The link works once; the firm's seal is applied at once.")
def sign(token: Token, body: Consent, request: Request, container: ContainerDep) -> SignedPublic:
    # The link is the credential: a retried signature's key belongs to it (never stored in clear).
    idempotency.claim(request, "sign-link:" + hashlib.sha256(token.encode()).hexdigest())
    outcome = _guarded(container, request, lambda: container.signatures.sign_with_link(
        token, signer_name=body.signer_name, consent_version=body.consent_version, client=_client(request),
        correlation_id=request.state.correlation_id))
    return SignedPublic(request_id=outcome.request_id, status="sealed" if outcome.status == "sealed" else "signed",
                        signed_at=outcome.signed_at, sha256=outcome.sha256)
