"""flows: running-instance migration (ADR 0012) — a dry run reports what would become of each
running instance of a version; applying moves the safe ones to the newer version. Every run is
recorded (who, when, why, per instance) and listed per definition."""
from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from application.access.policy import Policy
from application.flows.migration import DEFAULT_LIMIT, MAX_INSTANCES, MigrationReport, MigrationRequest
from domain.shared.errors import NotFoundError
from interfaces.api.deps import ContainerDep, consistent_with, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.routes.flow_instances import Instant, Limit
from interfaces.api.routes.flows import _definition, _definition_line
from interfaces.api.schemas import MAX_VERSION, CommandAccepted, Page, accepted
from projections.flows.migrations import MigrationQueries

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])
READS = Depends(consistent_with("flows.migrations", "flows.instances"))
Migrator = Annotated[Policy, Depends(requires("flows.instances.migrate"))]
NodeId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
REFUSED: Responses = {404: {"description": "The flow (or a named instance) does not exist or lies outside your scope."},
           422: {"description": "`invalid_migration_mapping` (one `errors` entry per mapping key), a version "
                                "that is not published or not newer, a blank reason."}}


class MigrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_version: Version = Field(description="The version the instances run now")
    to_version: Version = Field(description="A newer published version")
    mapping: dict[NodeId, NodeId] = Field(
        default_factory=dict, max_length=500, examples=[{"ops_review": "ops_check"}],
        description="Old node id -> new node id, same node type; ids both versions have map to themselves "
                    "unless named here")
    reason: str = Field(min_length=1, max_length=2000, description="Why (kept on the record and each instance)")
    instance_ids: list[UUID] | None = Field(
        None, min_length=1, max_length=MAX_INSTANCES,
        description="These instances only; else the running instances of from_version in your scope, by id")
    after: UUID | None = Field(None, description="Continue after this instance id (`next_after` of the last call)")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_INSTANCES, description="Instances handled by this call at most")


class MovePublic(BaseModel):
    token: str
    from_node: str
    to_node: str
    wait: Literal["task_kept", "task_reopened", "pause", "resubmit", "join"] = Field(
        description="What the token waits on there: its open task kept or reopened, a pause (due time kept), "
                    "the initiator's resubmission, a join")
    task: str | None = Field(description="The open task carried or reopened")


class OpenedTaskPublic(BaseModel):
    node: str
    candidates: list[str]


class MigrationItemPublic(BaseModel):
    instance_id: UUID
    title: str | None = Field(description="Null when the instance does not exist")
    outcome: Literal["safe", "unsafe", "migrated", "conflict"] = Field(
        description="Dry run: safe or unsafe. Applied: migrated, unsafe (left where it is) or conflict (it kept "
                    "changing; run it again)")
    reasons: list[str] = Field(description="Why an instance is unsafe (or conflicted)")
    current_nodes: list[str] = Field(description="Where it stood, in its version")
    moves: list[MovePublic]
    current_nodes_after: list[str] = Field(description="Where it stands (would stand) in the new version")
    tasks_opened: list[OpenedTaskPublic] = Field(description="Tasks the new version opens (reopened nodes)")
    instance_version: int | None = Field(None, description="The instance's version after it migrated")


class MigrationCountsPublic(BaseModel):
    safe: int
    unsafe: int
    migrated: int
    conflicts: int


class MigrationReportPublic(CommandAccepted):
    """``id``, ``version`` and ``position`` are the migration record's."""
    dry_run: bool
    definition_key: str
    from_version: int
    to_version: int
    counts: MigrationCountsPublic
    items: list[MigrationItemPublic]
    more: bool = Field(description="More running instances than `limit` were found")
    next_after: UUID | None = Field(description="Send as `after` to handle the next ones")


class MigrationSummaryPublic(BaseModel):
    id: UUID
    definition_key: str
    business_line: str
    from_version: int
    to_version: int
    dry_run: bool
    status: Literal["dry_run", "applying", "applied"] = Field(
        description="applying: the request is recorded, the results not (yet)")
    mapping: dict[str, str]
    reason: str
    actor: str
    counts: MigrationCountsPublic
    planned_at: Instant
    applied_at: Instant | None
    version: int


class MigrationsPage(Page):
    items: list[MigrationSummaryPublic]


class MigrationPublic(MigrationSummaryPublic):
    items: list[MigrationItemPublic] = Field(description="Its instances in your scope, in the order handled")


def _queries(container: ContainerDep) -> MigrationQueries:
    return MigrationQueries(container.readmodels)


Queries = Annotated[MigrationQueries, Depends(_queries)]


def _item(row: dict[str, Any]) -> MigrationItemPublic:
    moves = [MovePublic(token=m["token"], from_node=m["from"], to_node=m["to"], wait=m["wait"], task=m["task"])
             for m in row["moves"]]
    return MigrationItemPublic(**{**row, "moves": moves, "title": row.get("title"),
                                  "tasks_opened": [OpenedTaskPublic(**t) for t in row["tasks_opened"]]})


def _counts(outcomes: list[str]) -> MigrationCountsPublic:
    return MigrationCountsPublic(safe=outcomes.count("safe"), unsafe=outcomes.count("unsafe"),
                                 migrated=outcomes.count("migrated"), conflicts=outcomes.count("conflict"))


def _run(key: str, body: MigrationCreate, request: Request, container: ContainerDep, policy: Policy,
         response: Response, *, dry_run: bool) -> MigrationReportPublic:
    line = _definition_line(container, policy, key)
    for instance_id in body.instance_ids or []:  # from the event store: a fresh instance is found
        policy.require_scoped(f"flow instance {instance_id}", container.flows.scope_of(instance_id))
    wanted = MigrationRequest(key, body.from_version, body.to_version, dict(body.mapping), body.reason,
                              instance_ids=body.instance_ids, after=body.after, limit=body.limit)
    command = container.flows.plan_migration if dry_run else container.flows.migrate_instances
    report: MigrationReport = command(policy.context(request.state.correlation_id, line), wanted,
                                      policy.scope_params())
    return MigrationReportPublic(
        **accepted(report.result, response).model_dump(), dry_run=dry_run, definition_key=key,
        from_version=body.from_version, to_version=body.to_version,
        counts=_counts([i["outcome"] for i in report.items]), items=[_item(i) for i in report.items],
        more=report.more, next_after=report.next_after)


@router.post("/definitions/{key}/migrations/dry-run", response_model=MigrationReportPublic, responses=REFUSED,
             summary="Dry run: what would become of each running instance moved to a newer version (nothing "
                     "moves; the plan is recorded).")
def dry_run(key: str, body: MigrationCreate, request: Request, container: ContainerDep, policy: Migrator,
            response: Response) -> MigrationReportPublic:
    return _run(key, body, request, container, policy, response, dry_run=True)


@router.post("/definitions/{key}/migrations", response_model=MigrationReportPublic, responses=REFUSED,
             summary="Migrate the safe running instances to a newer version; unsafe ones stay, with reasons.")
def migrate(key: str, body: MigrationCreate, request: Request, container: ContainerDep, policy: Migrator,
            response: Response) -> MigrationReportPublic:
    return _run(key, body, request, container, policy, response, dry_run=False)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    counts = MigrationCountsPublic(**{k: row[k] for k in ("safe", "unsafe", "migrated", "conflicts")})
    return {**row, "counts": counts}


@router.get("/definitions/{key}/migrations", response_model=MigrationsPage, dependencies=[READS],
            responses={**INVALID_CURSOR, 404: {"description": "The flow does not exist or lies outside your lines."}},
            summary="Migrations of a flow (dry runs included), newest first (keyset-paged).")
def list_migrations(key: str, container: ContainerDep, policy: Migrator, queries: Queries,
                    cursor: str | None = None, limit: Limit = 50) -> MigrationsPage:
    _definition(container, policy, key)
    rows = queries.migrations(key, policy.scope_params(), after=typed_cursor(cursor, "at!", "id"), limit=limit + 1)
    items = rows[:limit]
    nxt = encode_cursor([items[-1]["planned_at"].isoformat(), str(items[-1]["id"])]) if len(rows) > limit else None
    return MigrationsPage(items=[MigrationSummaryPublic(**_summary(r)) for r in items], next_cursor=nxt)


@router.get("/definitions/{key}/migrations/{migration_id}", response_model=MigrationPublic, dependencies=[READS],
            responses={404: {"description": "No such migration of this flow in your lines."}},
            summary="One migration: its request and what became of each instance in your scope.")
def get_migration(key: str, migration_id: UUID, container: ContainerDep, policy: Migrator,
                  queries: Queries) -> MigrationPublic:
    row = queries.migration(migration_id)
    if row is None or row["definition_key"] != key or not policy.sees_line(row["business_line"]):
        raise NotFoundError(f"migration {migration_id} does not exist")
    return MigrationPublic(**_summary(row), items=[_item(i) for i in queries.items(migration_id,
                                                                                   policy.scope_params())])
