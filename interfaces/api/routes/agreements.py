"""agreements: generated agreements (协议) — list by instance, versions with their section marks, the
colour-coded HTML preview, the PDF, comparing two versions, and section reviews (approve, reject,
批注) by the departments involved (004 §5.2, §7.2, §7.3)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from application.access.policy import Policy
from application.agreements.preview import preview_html
from domain.agreements.agreement import Agreement
from domain.agreements.compare import compare_sections
from domain.agreements.sections import MARKS, part_of
from interfaces.api.deps import ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.routes.archive.common import _disposition
from interfaces.api.schemas import MAX_VERSION, CommandAccepted, Page, accepted

router = APIRouter(prefix="/api/v1/agreements", tags=["agreements"])
Reader = Annotated[Policy, Depends(requires("agreements.view"))]
Reviewer = Annotated[Policy, Depends(requires("agreements.review"))]
Version = Annotated[int, Path(ge=1, le=MAX_VERSION, description="The agreement's generated version")]
Section = Annotated[str, Path(pattern=r"^[1-5]\.[1-9][0-9]?$", examples=["2.1"])]
NOT_FOUND: Responses = {404: {"description": "The agreement (or version, section) does not exist or lies outside "
                                             "your lines and scope."}}
REVIEW_ERRORS: Responses = {
    **NOT_FOUND, 403: {"description": "The section is not your department's to approve, or you are in none of the "
                                      "departments involved."},
    409: {"description": "`agreement_version_superseded`: a newer version exists; or If-Match is stale."},
    422: {"description": "A rejection without a reason, or a comment without text."}}
# The preview is our HTML: styles inline, no script at all, and never framed.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox"


class AgreementSummaryPublic(BaseModel):
    id: UUID
    instance_id: UUID
    template_key: str
    language: str
    title: str
    business_type: str
    latest_version: int
    document_id: UUID | None = Field(description="The archived PDF of the latest version")
    generated_at: datetime | None


class AgreementsPage(Page):
    items: list[AgreementSummaryPublic]


class SectionPublic(BaseModel):
    number: str
    title: str
    text: str
    department: str = Field(description="SALES, OPS, CLEARING, FINANCE or GENERAL (004 §5.2)")
    colour: str = Field(description="blue, green, yellow, purple or grey")
    mark: Literal["approved", "pending", "rejected", "commented"]
    symbol: str = Field(description="✅ ⏳ ❌ 📝")


class ReviewPublic(BaseModel):
    kind: Literal["approved", "rejected", "commented"]
    section: str
    role: str
    text: str
    actor: str
    at: datetime


class AgreementVersionPublic(BaseModel):
    number: int
    template_version: int
    generated_at: datetime
    form_sha256: str
    pdf_sha256: str
    pdf_size: int
    document_id: UUID | None
    sections: list[SectionPublic]
    reviews: list[ReviewPublic]


class AgreementPublic(BaseModel):
    id: UUID
    agreement_number: str = Field(description="协议编号, the same on every version", examples=["AG-3F2A1C0D9B8E"])
    instance_id: UUID
    template_key: str
    language: str
    title: str
    business_type: str
    version: int = Field(description="Aggregate version (send as If-Match)")
    versions: list[AgreementVersionPublic]


class ChangePublic(BaseModel):
    op: Literal["equal", "insert", "delete"]
    text: str


class SectionDiffPublic(BaseModel):
    section: str
    status: Literal["added", "removed", "changed", "unchanged"]
    title: str
    old_title: str | None = None
    department: str
    colour: str
    changes: list[ChangePublic]


class ComparisonPublic(BaseModel):
    id: UUID
    from_version: int
    to_version: int
    sections: list[SectionDiffPublic]


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field("", max_length=2000, description="Comment, reason (required to reject) or 批注 text")


def _agreement(container: ContainerDep, policy: Policy, agreement_id: UUID) -> Agreement:
    agreement = container.agreements.agreement(agreement_id)
    return policy.require_scoped(f"agreement {agreement_id}", agreement)


def _version(agreement: Agreement, number: int) -> AgreementVersionPublic:
    g, marks = agreement.generation(number), agreement.marks(number)
    return AgreementVersionPublic(
        number=number, template_version=g["template_version"], generated_at=g["generated_at"],
        form_sha256=g["form_sha256"], pdf_sha256=g["pdf_sha256"], pdf_size=g["pdf_size"],
        document_id=g["document_id"],
        sections=[SectionPublic(**s, department=part_of(s["number"]).department, colour=part_of(s["number"]).colour,
                                mark=marks[s["number"]], symbol=MARKS[marks[s["number"]]]) for s in g["sections"]],
        reviews=[ReviewPublic(**{k: r[k] for k in ReviewPublic.model_fields}) for r in agreement.reviews_of(number)])


@router.get("", response_model=AgreementsPage, dependencies=[Depends(consistent_with("agreements.catalogue"))],
            summary="Agreements in your lines and scope, oldest first (keyset-paged); filter by flow instance.",
            responses=INVALID_CURSOR)
def list_agreements(container: ContainerDep, policy: Reader, instance_id: UUID | None = None,
                    cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> AgreementsPage:
    after = typed_cursor(cursor, "at!", "id")
    rows = container.agreement_queries.agreements(policy.scope_params(), instance_id=instance_id, after=after,
                                                  limit=limit + 1)
    items = rows[:limit]
    return AgreementsPage(items=[AgreementSummaryPublic(**r) for r in items],
                          next_cursor=encode_cursor([items[-1]["created_at"].isoformat(), str(items[-1]["id"])])
                          if len(rows) > limit else None)


@router.get("/{agreement_id}", response_model=AgreementPublic, responses=NOT_FOUND,
            summary="An agreement with every generated version: sections, their marks (✅ ⏳ ❌ 📝) and reviews.")
def get_agreement(agreement_id: UUID, container: ContainerDep, policy: Reader, response: Response) -> AgreementPublic:
    a = _agreement(container, policy, agreement_id)
    response.headers["ETag"] = f'"{a.version}"'
    return AgreementPublic(id=a.id, agreement_number=a.number, instance_id=a.instance_id, template_key=a.template_key,
                           language=a.language, title=a.title, business_type=a.business_type, version=a.version,
                           versions=[_version(a, g["number"]) for g in a.generations])


@router.get("/{agreement_id}/versions/{number}/preview", response_class=HTMLResponse,
            summary="协议预览: the version as HTML, each section in its department's colour with its mark.",
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}, **NOT_FOUND})
def preview(agreement_id: UUID, number: Version, container: ContainerDep, policy: Reader) -> HTMLResponse:
    html = preview_html(_agreement(container, policy, agreement_id), number)
    return HTMLResponse(html, headers={"Content-Security-Policy": PREVIEW_CSP})


@router.get("/{agreement_id}/versions/{number}/pdf", response_class=Response,
            summary="The version's PDF (the archived file), as an attachment.",
            responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                       **NOT_FOUND})
def pdf(agreement_id: UUID, number: Version, container: ContainerDep, policy: Reader) -> Response:
    agreement = _agreement(container, policy, agreement_id)
    content = container.agreements.pdf(agreement.id, number)
    return Response(content, media_type="application/pdf", headers={
        "Content-Security-Policy": "sandbox", "ETag": f'"{agreement.generation(number)["pdf_sha256"]}"',
        "Content-Disposition": _disposition("attachment", f"{agreement.number}-v{number}.pdf")})


@router.get("/{agreement_id}/compare", response_model=ComparisonPublic, responses=NOT_FOUND,
            summary="对比查看: what changed between two versions, per section (added, removed, changed inline).")
def compare(agreement_id: UUID, container: ContainerDep, policy: Reader,
            from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION)],
            to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_VERSION)]) -> ComparisonPublic:
    agreement = _agreement(container, policy, agreement_id)
    diff = compare_sections(agreement.generation(from_version)["sections"],
                            agreement.generation(to_version)["sections"])
    return ComparisonPublic(id=agreement.id, from_version=from_version, to_version=to_version, sections=[
        SectionDiffPublic(**d, department=part_of(d["section"]).department, colour=part_of(d["section"]).colour)
        for d in diff])


def _review(action: str) -> Callable[..., CommandAccepted]:
    def review(agreement_id: UUID, number: Version, section: Section, body: Review, request: Request,
               container: ContainerDep, policy: Reviewer, expected: ExpectedVersion,
               response: Response) -> CommandAccepted:
        agreement = _agreement(container, policy, agreement_id)
        ctx = policy.context(request.state.correlation_id, agreement.business_line)
        command = {"approve": container.agreements.approve_section, "reject": container.agreements.reject_section,
                   "comments": container.agreements.comment_section}[action]
        return accepted(command(ctx, agreement.id, number, section, policy.principal.roles, body.text, expected),
                        response)
    return review


for _action, _summary in (("approve", "Approve a section of the latest version (its owning department only)."),
                          ("reject", "Reject a section of the latest version, saying why (its owning department)."),
                          ("comments", "批注: comment on a section (any department involved).")):
    router.add_api_route(f"/{{agreement_id}}/versions/{{number}}/sections/{{section}}/{_action}", _review(_action),
                         methods=["POST"], response_model=CommandAccepted, summary=_summary,
                         status_code=201 if _action == "comments" else 200, responses=REVIEW_ERRORS,
                         name=f"agreement_section_{_action}")
