"""flows: flow definitions — versioned graphs, checked publishing, diagrams."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from application.access.policy import Policy
from application.flows.service import parse_graph
from domain.flows.diagram import to_mermaid
from domain.flows.graph import segregation_warnings
from domain.shared.errors import NotFoundError
from interfaces.api.deps import ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.schemas import CommandAccepted, Page, VersionNumber, accepted

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])
Consistent = Depends(consistent_with("flows.definitions"))
Viewer = Annotated[Policy, Depends(requires("flows.definitions.view"))]
Designer = Annotated[Policy, Depends(requires("flows.definitions.manage"))]
Key = Annotated[str, Field(min_length=2, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")]


class DefinitionCreate(BaseModel):
    key: Key = Field(examples=["fee_rate_change"])
    name: str = Field(min_length=1, max_length=100)
    business_type: Key
    description: str = Field("", max_length=2000)


class ReasonCode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$", examples=["RATE_BEYOND_AUTHORITY"])
    label: str = Field(min_length=1, max_length=100, examples=["费率超出权限 Rate beyond authority"])
    counted: bool = Field(description="驳回计入考核: a rejection or return with this reason counts for assessment")


class DraftSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deduplication: Literal["none", "approve_all", "approve_consecutive"] = "none"
    empty_assignee: Literal["skip", "to_admin", "block"] = "to_admin"
    chain_to: str | None = Field(None, max_length=48, description="The flow started when this one completes (流程接龙)")
    summary_fields: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=5, examples=[["basic.tenant_name_cn", "commercial.term_months"]],
        description="Up to 5 form paths shown on todo and board rows (OA 摘要); checked against the form at publish")
    reason_codes: list[ReasonCode] = Field(
        default_factory=list, max_length=100,
        description="The catalogue of reasons a rejection or return may give (kept for statistics)")
    override_approval: Literal["none", "second_administrator"] = Field(
        "none", description="四眼原则: `second_administrator` makes an administrator's jump, form edit, reassign, "
                            "terminate or department move wait for another administrator's approval")


class DefinitionDraft(BaseModel):
    graph: dict[str, Any] = Field(description="{nodes: [...], edges: [...], rules: [...], amount_field} — see "
                                  "docs/flows.md (Definitions; Rules)")
    settings: DraftSettings = Field(default_factory=DraftSettings)


# Read-model rows are rendered with isoformat(), as they were before these models existed.
Instant = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")]
NOT_FOUND: Responses = {
    404: {"description": "The flow (or version) does not exist or lies outside your business lines."}}
STALE: Responses = {409: {"description": "`conflict`: the definition changed since you read it (If-Match)."}}


class PublishWarningPublic(BaseModel):
    path: str = Field(examples=["nodes.ops_review"])
    message: str


class PublishAccepted(CommandAccepted):
    published_version: int = Field(description="The version number this publish created", examples=[1])
    warnings: list[PublishWarningPublic] = Field(
        default_factory=list, description="Published anyway, but worth a look: e.g. a review node not "
                                          "independent of the entry it reviews (docs/flows.md)")


class DefinitionSummaryPublic(BaseModel):
    id: UUID
    key: str
    name: str
    business_type: str
    business_line: str
    description: str
    latest_version: int = Field(description="Last published version; 0 before the first publish")
    version: int = Field(description="Aggregate version (send as If-Match)")
    updated_at: Instant


class DefinitionsPage(Page):
    items: list[DefinitionSummaryPublic]


class VersionSummaryPublic(BaseModel):
    number: int
    published_at: Instant
    published_by: str


class DefinitionPublic(DefinitionSummaryPublic):
    draft: dict[str, Any] | None = Field(None, description="The saved draft graph (null before the first save); "
                                                          "absent unless you may manage definitions")
    settings: dict[str, Any]
    versions: list[VersionSummaryPublic]


class LaunchNotePublic(BaseModel):
    node: str
    name: str
    description: str


class VersionPublic(BaseModel):
    key: str
    number: int
    graph: dict[str, Any] = Field(description="{nodes: [...], edges: [...]} as published")
    settings: dict[str, Any]
    mermaid: str
    launch_notes: list[LaunchNotePublic] = Field(description="Node descriptions shown to the initiator at launch")


def _definition_line(container: ContainerDep, policy: Policy, key: str) -> str:
    """For commands: the aggregate, never a lagging read model."""
    line = container.flows.definition(key).business_line
    policy.require_line(f"flow {key!r}", line)
    return line


def _definition(container: ContainerDep, policy: Policy, key: str) -> dict[str, Any]:
    row = container.flow_queries.definition(key)
    if row is None or not policy.sees_line(row["business_line"]):
        raise NotFoundError(f"flow {key!r} does not exist")
    return row


@router.post("/definitions", status_code=201, response_model=CommandAccepted,
             summary="Create a flow definition for a business type.",
             responses={404: {"description": "The business type does not exist or lies outside your lines."},
                        409: {"description": "The key is taken."}})
def create_definition(body: DefinitionCreate, request: Request, container: ContainerDep, policy: Designer,
                      response: Response) -> CommandAccepted:
    try:
        line = container.forms.business_type(body.business_type).business_line
    except NotFoundError:
        raise NotFoundError(f"business type {body.business_type!r} does not exist", field="business_type") from None
    policy.require_line(f"business type {body.business_type!r}", line, field="business_type")
    ctx = policy.context(request.state.correlation_id, line)
    return accepted(container.flows.create_definition(ctx, body.key, body.name, body.business_type, line,
                                                      body.description), response)


@router.put("/definitions/{key}/draft", response_model=CommandAccepted,
            summary="Save the draft graph (its shape is checked now, its structure at publish).",
            responses={**NOT_FOUND, **STALE})
def save_draft(key: str, body: DefinitionDraft, request: Request, container: ContainerDep, policy: Designer,
               expected: ExpectedVersion, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _definition_line(container, policy, key))
    settings = body.settings.model_dump(exclude_none=True)
    # Defaults are left out, so a draft saved before a setting existed compares equal to itself.
    for name, default in (("summary_fields", []), ("reason_codes", []), ("override_approval", "none")):
        if settings.get(name) == default:
            del settings[name]
    return accepted(container.flows.save_draft(ctx, key, body.graph, settings, expected), response)


@router.post("/definitions/{key}/publish", response_model=PublishAccepted,
             summary="Check the draft graph and publish it as the next version.",
             responses={**NOT_FOUND, **STALE,
                        422: {"description": "`invalid_flow_graph`: every problem, with the node or edge"}})
def publish(key: str, request: Request, container: ContainerDep, policy: Designer, expected: ExpectedVersion,
            response: Response) -> PublishAccepted:
    ctx = policy.context(request.state.correlation_id, _definition_line(container, policy, key))
    result, number = container.flows.publish(ctx, key, expected)
    warnings = [PublishWarningPublic(path=where, message=what)
                for where, what in segregation_warnings(container.flows.published_graph(key, number))]
    return PublishAccepted(**accepted(result, response).model_dump(), published_version=number, warnings=warnings)


@router.get("/definitions", response_model=DefinitionsPage, dependencies=[Consistent],
            summary="Flow definitions of your business lines, by key (keyset-paged).",
            responses=INVALID_CURSOR)
def list_definitions(container: ContainerDep, policy: Viewer, cursor: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> DefinitionsPage:
    after = typed_cursor(cursor, "text")
    rows = container.flow_queries.definitions(policy.scope_params(), after=after[0] if after else None,
                                              limit=limit + 1)
    items = rows[:limit]
    return DefinitionsPage(items=[DefinitionSummaryPublic(**row) for row in items],
                           next_cursor=encode_cursor([items[-1]["key"]]) if len(rows) > limit else None)


@router.get("/definitions/{key}", response_model=DefinitionPublic, response_model_exclude_unset=True,
            dependencies=[Consistent], summary="A flow definition with its versions (ETag = its version).",
            responses=NOT_FOUND)
def get_definition(key: str, container: ContainerDep, policy: Viewer, response: Response) -> DefinitionPublic:
    row = _definition(container, policy, key)
    row.pop("position", None)
    if not policy.can("flows.definitions.manage"):
        row.pop("draft", None)
    row["versions"] = [VersionSummaryPublic(**v) for v in container.flow_queries.versions(row["id"])]
    response.headers["ETag"] = f'"{row["version"]}"'
    return DefinitionPublic(**row)


@router.get("/definitions/{key}/versions/{number}", response_model=VersionPublic,
            summary="A published version: graph, settings and Mermaid.", responses=NOT_FOUND)
def get_version(key: str, number: VersionNumber, container: ContainerDep, policy: Viewer) -> VersionPublic:
    _definition_line(container, policy, key)
    version = container.flows.definition(key).published_version(number)
    graph = parse_graph(version["graph"])
    return VersionPublic(key=key, number=number, graph=version["graph"], settings=version["settings"],
                         mermaid=to_mermaid(graph),
                         launch_notes=[LaunchNotePublic(node=n.id, name=n.name, description=n.description)
                                       for n in graph.nodes if n.description])


@router.get("/definitions/{key}/versions/{number}/diagram.mmd", response_class=PlainTextResponse,
            summary="The version's diagram as Mermaid text (for the launch page).",
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **NOT_FOUND})
def diagram(key: str, number: VersionNumber, container: ContainerDep, policy: Viewer) -> str:
    _definition_line(container, policy, key)
    return to_mermaid(container.flows.published_graph(key, number))
