"""E-signature, the firm's side: ask a signer to sign an archived PDF, list and follow requests,
re-issue a link, revoke, retry a seal, and verify archived PDFs (ADR 0022, docs/signatures.md).
The signer's side, without login, is signatures_public.py."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, EmailStr, Field

from application.access.policy import Policy
from application.signatures.ports import IssuedLink, Signer
from domain.signatures.seal import Verification
from interfaces.api.deps import ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.schemas import CommandAccepted, Page, accepted
from interfaces.bootstrap import Container

router = APIRouter(prefix="/api/v1/signatures", tags=["signatures"])
Manager = Annotated[Policy, Depends(requires("signatures.manage"))]
Verifier = Annotated[Policy, Depends(requires("signatures.verify"))]
READS = Depends(consistent_with("signatures.requests"))
RESOURCE = "signatures.request"
CLOSED: Responses = {409: {"description": "`signing_request_closed`: signed, sealed, expired or revoked already"}}


class SigningRequestCreate(BaseModel):
    document_id: UUID = Field(description="An archived PDF in your scope: its current version is what is signed")
    signer_name: str = Field(min_length=1, max_length=100, description="The signer's full name, as they must type it",
                             examples=["张三"])
    signer_phone: str | None = Field(None, pattern=r"^\+?[0-9 -]{5,20}$", examples=["13812345678"])
    signer_email: EmailStr | None = None
    expires_hours: int | None = Field(None, ge=1, le=720, description="Default: LEDGERFLOW_SIGNATURES_LINK_HOURS")


class LinkIssued(BaseModel):
    """The signing link, shown once: only its hash is kept. Hand it to the signer."""

    request_id: UUID
    link: str = Field(description="The public path, e.g. /api/v1/sign/<token>")
    url: str = Field(description="The link under LEDGERFLOW_PUBLIC_BASE_URL")
    expires_at: datetime
    version: int
    position: int


class Reissue(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    expires_hours: int | None = Field(None, ge=1, le=720)


class Revoke(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class SigningRequestPublic(BaseModel):
    id: UUID
    status: Literal["pending", "signed", "sealed", "expired", "revoked"]
    business_line: str
    department_id: UUID | None = None
    customer: str | None = None
    fund_account: str | None = None
    business_type: str | None = None
    flow_instance: UUID | None = None
    document_id: UUID
    document_sha256: str
    filename: str
    signer_name: str
    signer_phone: str | None = None
    signer_email: str | None = None
    expires_at: datetime
    requested_at: datetime
    requested_by: str
    views: int
    signed_at: datetime | None = None
    signed_name: str | None = None
    signed_document_id: UUID | None = None
    sealed_sha256: str | None = None
    development_certificate: bool | None = None
    closed_reason: str | None = None
    version: int


class TrailStep(BaseModel):
    seq: int
    kind: Literal["requested", "viewed", "link_reissued", "signed", "sealed", "expired", "revoked"]
    actor: str
    detail: dict[str, Any]
    occurred_at: datetime


class SigningRequestDetail(SigningRequestPublic):
    trail: list[TrailStep] = Field(description="Every step, in order (签署流程追溯)")


class SigningRequestsPage(Page):
    items: list[SigningRequestPublic]


class SignatureReport(BaseModel):
    field_name: str
    signer: str
    certificate_fingerprint: str
    signing_time: datetime | None
    intact: bool = Field(description="The signed bytes are unchanged")
    valid: bool = Field(description="The signature itself checks out")
    trusted: bool = Field(description="The certificate chains to the firm's trust root")
    covers_whole_file: bool = Field(description="Nothing was added after the signature")
    ok: bool
    name: str | None = None
    reason: str | None = None
    location: str | None = None
    timestamped: bool


class VerificationPublic(BaseModel):
    valid: bool = Field(description="At least one signature, and every one intact, valid, trusted, covering the file")
    sha256: str = Field(description="SHA-256 of the verified bytes")
    size: int
    development_certificate: bool = Field(description="Checked against the generated DEVELOPMENT CA: proves "
                                                      "nothing outside this installation")
    problem: str | None = None
    signatures: list[SignatureReport]
    sealed_by_request: UUID | None = Field(None, description="The signing request whose seal recorded exactly this "
                                                             "hash, if any")


def _issued(issued: IssuedLink, response: Response) -> LinkIssued:
    accepted(issued.result, response)
    return LinkIssued(request_id=issued.request_id, link=issued.path, url=issued.url, expires_at=issued.expires_at,
                      version=issued.result.version, position=issued.result.position)


def _scoped_request(container: Container, policy: Policy, request_id: UUID) -> Any:
    """The request's aggregate, 404 unless it lies in the caller's lines and scope."""
    return policy.require_scoped(f"signing request {request_id}", container.signatures.signing_request(request_id))


@router.post("/requests", status_code=201, response_model=LinkIssued,
             responses={404: {"description": "`not_found`: no such document in your scope"},
                        422: {"description": "`rule_violation`: not a PDF, or a deleted document"}},
             summary="Ask a signer to e-sign an archived PDF: returns the one-time link (shown once).")
def create(body: SigningRequestCreate, request: Request, response: Response, container: ContainerDep,
           policy: Manager) -> LinkIssued:
    document = container.archive.document(body.document_id)
    policy.require_scoped(f"document {body.document_id}", document)
    ctx = policy.context(request.state.correlation_id)
    issued = container.signatures.request_signature(
        ctx, body.document_id, Signer(body.signer_name, body.signer_phone, body.signer_email),
        expires_hours=body.expires_hours)
    return _issued(issued, response)


@router.get("/requests", dependencies=[READS], response_model=SigningRequestsPage,
            responses={400: {"description": "`invalid_cursor`"}},
            summary="Signing requests in your lines and scope, newest first.")
def list_requests(container: ContainerDep, policy: Manager,
                  status: Annotated[Literal["pending", "signed", "sealed", "expired", "revoked"] | None,
                                    Query()] = None,
                  flow_instance: UUID | None = None,
                  cursor: Annotated[str | None, Query(max_length=400)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> SigningRequestsPage:
    after = typed_cursor(cursor, "at!", "id")
    rows = container.signing_queries.page(policy.scope_params(), status=status, flow_instance=flow_instance,
                                          after=after, limit=limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    items = [SigningRequestPublic.model_validate(r) for r in policy.present_all(RESOURCE, rows)]
    last = rows[-1] if rows else None
    return SigningRequestsPage(items=items, next_cursor=encode_cursor([last["requested_at"].isoformat(),
                                                                       str(last["id"])]) if more and last else None)


@router.get("/requests/{request_id}", dependencies=[READS], response_model=SigningRequestDetail,
            summary="One signing request and its trail: requested, viewed, signed, sealed, expired, revoked.")
def detail(request_id: UUID, response: Response, container: ContainerDep, policy: Manager) -> SigningRequestDetail:
    row = policy.require_scoped(f"signing request {request_id}", container.signing_queries.request(request_id))
    response.headers["ETag"] = f'"{row["version"]}"'
    return SigningRequestDetail.model_validate({**policy.present(RESOURCE, row),
                                                "trail": container.signing_queries.trail(request_id)})


@router.post("/requests/{request_id}/link", response_model=LinkIssued, responses=CLOSED,
             summary="Re-issue the link of a pending request: a new link (shown once); the old one answers 410.")
def reissue(request_id: UUID, body: Reissue, request: Request, response: Response, container: ContainerDep,
            policy: Manager) -> LinkIssued:
    _scoped_request(container, policy, request_id)
    issued = container.signatures.reissue_link(policy.context(request.state.correlation_id), request_id,
                                               reason=body.reason, expires_hours=body.expires_hours)
    return _issued(issued, response)


@router.post("/requests/{request_id}/revoke", response_model=CommandAccepted, responses=CLOSED,
             summary="Revoke a pending request: its link answers 410; a waiting flow hears `failed: revoked`.")
def revoke(request_id: UUID, body: Revoke, request: Request, response: Response, container: ContainerDep,
           policy: Manager, expected: ExpectedVersion) -> CommandAccepted:
    _scoped_request(container, policy, request_id)
    result = container.signatures.revoke(policy.context(request.state.correlation_id), request_id, body.reason,
                                         expected)
    return accepted(result, response)


@router.post("/requests/{request_id}/seal", response_model=CommandAccepted, responses={
                 **CLOSED, 503: {"description": "`sealing_failed`: the seal could not be applied; retry"}},
             summary="Apply the seal to a request that was signed but whose seal failed.")
def seal(request_id: UUID, request: Request, response: Response, container: ContainerDep,
         policy: Manager) -> CommandAccepted:
    _scoped_request(container, policy, request_id)
    outcome = container.signatures.complete_seal(policy.context(request.state.correlation_id), request_id)
    aggregate = container.signatures.signing_request(outcome.request_id)
    response.headers["ETag"] = f'"{aggregate.version}"'
    return CommandAccepted(id=aggregate.id, version=aggregate.version, position=container.store.head())


@router.get("/documents/{document_id}/verification", response_model=VerificationPublic,
            summary="Verify an archived PDF: every signature against the firm's trust root, and its SHA-256.")
def verify_document(document_id: UUID, container: ContainerDep, policy: Verifier,
                    version: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None) -> VerificationPublic:
    policy.require_scoped(f"document {document_id}", container.archive.document(document_id))
    report, sealed = container.signatures.verify_document(document_id, version)
    return _report(report, sealed["id"] if sealed else None)


def _report(report: Verification, sealed_by: UUID | None) -> VerificationPublic:
    return VerificationPublic(
        valid=report.valid, sha256=report.sha256, size=report.size,
        development_certificate=report.development_certificate, problem=report.problem,
        signatures=[SignatureReport(**{**vars(s), "ok": s.ok}) for s in report.signatures],
        sealed_by_request=sealed_by)
