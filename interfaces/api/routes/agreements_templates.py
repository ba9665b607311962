"""agreements: templates (协议模板) per business type and language — drafts, checked publishing,
versions (004 §7.2)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from application.access.policy import Policy
from domain.agreements.sections import part_of
from interfaces.api.deps import ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.schemas import CommandAccepted, Page, accepted

router = APIRouter(prefix="/api/v1/agreements/templates", tags=["agreements"])
Viewer = Annotated[Policy, Depends(requires("agreements.templates.view"))]
Designer = Annotated[Policy, Depends(requires("agreements.templates.manage"))]
Key = Annotated[str, Field(min_length=2, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")]
Language = Literal["zh", "en"]
NOT_FOUND: Responses = {404: {"description": "The template does not exist or lies outside your business lines."}}
STALE: Responses = {409: {"description": "`conflict`: the template changed since you read it (If-Match)."}}
INVALID: Responses = {422: {"description": "`invalid_agreement_template`: every problem, with the section"}}


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: Key = Field(examples=["tenant_signing"])
    language: Language = Field(examples=["zh"])
    name: str = Field(min_length=1, max_length=200, examples=["租户签约协议模板"])
    business_type: Key = Field(examples=["tenant_signing"])


class SectionDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(pattern=r"^[1-5]\.[1-9][0-9]?$", examples=["1.1"],
                        description="004 §5.2: 1.x OPS, 2.x SALES, 3.x CLEARING, 4.x FINANCE, 5.x general")
    title: str = Field(min_length=1, max_length=200, examples=["乙方信息"])
    body: str = Field(max_length=20_000, examples=["乙方：{{ basic.tenant_name_cn }}"],
                      description="Jinja text; variables are form paths (`basic.tenant_name_cn`) and "
                                  "`agreement.number|title|template|language`")


class TemplateDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200, examples=["租户签约协议"])
    sections: list[SectionDraft] = Field(min_length=1, max_length=100)


class TemplateSummaryPublic(BaseModel):
    key: str
    language: str
    name: str
    business_type: str
    business_line: str
    latest_version: int = Field(description="Last published version; 0 before the first publish")
    has_draft: bool
    version: int = Field(description="Aggregate version (send as If-Match)")
    updated_at: datetime


class TemplatesPage(Page):
    items: list[TemplateSummaryPublic]


class SectionPublic(BaseModel):
    number: str
    title: str
    body: str
    department: str = Field(description="SALES, OPS, CLEARING, FINANCE or GENERAL (004 §5.2)")
    colour: str = Field(description="blue, green, yellow, purple or grey")


class TemplateVersionPublic(BaseModel):
    number: int
    title: str
    sections: list[SectionPublic]


class TemplatePublic(BaseModel):
    key: str
    language: str
    name: str
    business_type: str
    business_line: str
    version: int
    draft: TemplateVersionPublic | None = Field(None, description="The draft (number 0); only for designers")
    versions: list[TemplateVersionPublic]


class PublishAccepted(CommandAccepted):
    published_version: int = Field(examples=[1])


def _sections(sections: list[dict[str, str]]) -> list[SectionPublic]:
    return [SectionPublic(**s, department=part_of(s["number"]).department, colour=part_of(s["number"]).colour)
            for s in sections]


def _line(container: ContainerDep, policy: Policy, key: str, language: str) -> str:
    line = container.agreements.template(key, language).business_line
    policy.require_line(f"agreement template {key!r} ({language})", line)
    return line


@router.post("", status_code=201, response_model=CommandAccepted, summary="Create an agreement template.",
             responses={404: {"description": "The business type does not exist or lies outside your lines."},
                        409: {"description": "This key and language exist already."}})
def create_template(body: TemplateCreate, request: Request, container: ContainerDep, policy: Designer,
                    response: Response) -> CommandAccepted:
    line = container.forms.current_business_type(body.business_type).business_line
    policy.require_line(f"business type {body.business_type!r}", line, field="business_type")
    ctx = policy.context(request.state.correlation_id, line)
    return accepted(container.agreements.create_template(ctx, body.key, body.language, body.name,
                                                         body.business_type), response)


@router.put("/{key}/{language}/draft", response_model=CommandAccepted,
            summary="Save the draft: title and numbered sections (bodies' syntax checked now, variables at publish).",
            responses={**NOT_FOUND, **STALE, **INVALID})
def save_draft(key: str, language: Language, body: TemplateDraft, request: Request, container: ContainerDep,
               policy: Designer, expected: ExpectedVersion, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _line(container, policy, key, language))
    sections = [s.model_dump() for s in body.sections]
    return accepted(container.agreements.save_template_draft(ctx, key, language, body.title, sections, expected),
                    response)


@router.post("/{key}/{language}/publish", response_model=PublishAccepted,
             summary="Check the draft against the business type's form and publish it as the next version.",
             responses={**NOT_FOUND, **STALE, **INVALID})
def publish(key: str, language: Language, request: Request, container: ContainerDep, policy: Designer,
            expected: ExpectedVersion, response: Response) -> PublishAccepted:
    ctx = policy.context(request.state.correlation_id, _line(container, policy, key, language))
    result, number = container.agreements.publish_template(ctx, key, language, expected)
    return PublishAccepted(**accepted(result, response).model_dump(), published_version=number)


@router.get("", response_model=TemplatesPage, dependencies=[Depends(consistent_with("agreements.catalogue"))],
            summary="Agreement templates of your business lines, by key and language (keyset-paged).",
            responses=INVALID_CURSOR)
def list_templates(container: ContainerDep, policy: Viewer, business_type: Key | None = None,
                   cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> TemplatesPage:
    after = typed_cursor(cursor, "text", "text")
    rows = container.agreement_queries.templates(policy.scope_params(), business_type=business_type, after=after,
                                                 limit=limit + 1)
    items = rows[:limit]
    return TemplatesPage(items=[TemplateSummaryPublic(**r) for r in items],
                         next_cursor=encode_cursor([items[-1]["key"], items[-1]["language"]])
                         if len(rows) > limit else None)


@router.get("/{key}/{language}", response_model=TemplatePublic, response_model_exclude_none=True,
            summary="A template with its published versions (ETag = its version).", responses=NOT_FOUND)
def get_template(key: str, language: Language, container: ContainerDep, policy: Viewer,
                 response: Response) -> TemplatePublic:
    template = container.agreements.template(key, language)
    policy.require_line(f"agreement template {key!r} ({language})", template.business_line)
    draft = template.draft if policy.can("agreements.templates.manage") else None
    response.headers["ETag"] = f'"{template.version}"'
    return TemplatePublic(
        key=template.key, language=template.language, name=template.name, business_type=template.business_type,
        business_line=template.business_line, version=template.version,
        draft=TemplateVersionPublic(number=0, title=draft["title"], sections=_sections(draft["sections"]))
        if draft else None,
        versions=[TemplateVersionPublic(number=v["number"], title=v["title"], sections=_sections(v["sections"]))
                  for v in template.versions])
