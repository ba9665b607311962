"""flows: starting instances, the todo list, task actions, monitoring."""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field, PlainSerializer

from application.access.policy import Policy
from domain.flows.fields import _ABSENT as HIDDEN  # present_change's "not for you" marker
from domain.flows.fields import drop_paths, hidden_paths, present_change, present_form_edit, restore_unseen
from domain.flows.graph import to_mermaid
from domain.flows.instance import Task
from domain.forms.diff import diff
from domain.shared.context import CommandContext
from domain.shared.errors import DomainError, NotFoundError
from interfaces.api.deps import ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import encode_cursor, typed_cursor
from interfaces.api.problems import STATUS_BY_ERROR, ApiProblem
from interfaces.api.routes.flow_calls import CallChildPublic, CallParentPublic, present_calls
from interfaces.api.schemas import CommandAccepted, FundAccount, Page, accepted

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/flows", tags=["flows"])
READS = Depends(consistent_with("flows.instances"))
Starter = Annotated[Policy, Depends(requires("flows.instances.start"))]
Viewer = Annotated[Policy, Depends(requires("flows.instances.view"))]
Handler = Annotated[Policy, Depends(requires("flows.tasks.handle"))]
Admin = Annotated[Policy, Depends(requires("flows.instances.admin"))]
RESOURCE = "flows.instance"
Comment = Annotated[str, Field("", max_length=2000)]


class InstanceStart(BaseModel):
    definition: str = Field(max_length=48, examples=["tenant_signing"])
    subject: str = Field(max_length=32, examples=["institution"])
    title: str = Field(min_length=1, max_length=200)
    data: dict[str, Any]
    fund_account: FundAccount | None = None


class Decision(BaseModel):
    comment: Comment


ReasonCode = Annotated[str | None, Field(None, max_length=32, description="A code of the flow's `reason_codes` "
                                                                      "catalogue (422 otherwise)")]


class Rejection(BaseModel):
    comment: Comment
    reason_code: ReasonCode


class ReturnTo(BaseModel):
    target: str = Field(max_length=48, description="A node id, 'start' (the initiator) or 'previous'")
    comment: Comment
    reason_code: ReasonCode


class RemoveSigner(BaseModel):
    signer: str = Field(pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")
    comment: Comment


class Transfer(BaseModel):
    to: str = Field(pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")
    comment: Comment


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class Remark(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class Resubmit(BaseModel):
    data: dict[str, Any] | None = None


class BatchItem(BaseModel):
    instance_id: UUID
    task_id: str = Field(max_length=32)


class Batch(BaseModel):
    action: Literal["approve", "reject"]
    comment: Comment
    items: list[BatchItem] = Field(min_length=1, max_length=200)


# Read-model rows are rendered with isoformat(), as they were before these models existed.
Instant = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")]
NOT_FOUND = {404: {"description": "The instance (or task) does not exist or lies outside your data scope."}}
STALE = {409: {"description": "`conflict`: the instance changed since you read it (If-Match)."}}
DECIDED = {409: {"description": "`task_already_decided`: the task was decided already (or the instance moved on)."}}
RULE = {422: {"description": "The flow's rules refuse the action here (e.g. the node does not allow it)."}}


class TaskRowPublic(BaseModel):
    """A task as the todo inbox lists it."""
    instance_id: UUID
    task_id: str
    node: str
    mode: str
    status: str = Field(examples=["open"])
    candidates: list[str]
    decided_by: list[str]
    business_type: str
    business_line: str
    department_id: UUID | None
    fund_account: str | None
    initiator: str
    title: str
    urgent: bool
    opened_at: Instant
    closed_at: Instant | None
    sla_due_at: Instant | None
    sla_warned: bool
    overdue: bool


Summary = Annotated[dict[str, Any], Field(
    description="Up to 5 summary fields (OA 摘要) of the instance: {dotted path: value}, as the version's "
                "`summary_fields` setting names them; field rules apply")]


class TodoItemPublic(TaskRowPublic):
    current_nodes: list[str]
    node_name: str = Field(description="The task node's name in the instance's version")
    summary: Summary


class TodoCountPublic(BaseModel):
    business_type: str
    open: int
    urgent: int


class TodoPage(Page):
    items: list[TodoItemPublic]
    counts: list[TodoCountPublic] = Field(description="Open and urgent tasks per business type, same filters")


class DoneTaskPublic(TaskRowPublic):
    signers_before: list[str]
    signers_after: list[str]
    after_phase: bool
    sla_warn_at: Instant | None


class DonePage(Page):
    items: list[DoneTaskPublic]


class CopiedPublic(BaseModel):
    instance_id: UUID
    recipient: str
    by: str
    note: str | None
    title: str
    business_line: str
    department_id: UUID | None
    fund_account: str | None
    copied_at: Instant
    read_at: Instant | None = Field(None, description="When the recipient marked it read (抄送已读); null: unread")


class CopiedPage(Page):
    items: list[CopiedPublic]


class InstanceSummaryPublic(BaseModel):
    id: UUID
    definition_key: str
    definition_version: int
    business_type: str
    title: str
    status: str = Field(examples=["running"])
    business_line: str
    department_id: UUID | None
    fund_account: str | None
    initiator: str
    current_nodes: list[str]
    started_at: Instant
    updated_at: Instant
    version: int
    summary: Summary = {}


class InitiatedPage(Page):
    items: list[InstanceSummaryPublic]


class InstanceTaskPublic(BaseModel):
    task_id: str
    node: str
    mode: str
    status: str
    candidates: list[str]
    decided_by: list[str]
    opened_at: Instant
    closed_at: Instant | None


class TimelineEntryPublic(BaseModel):
    seq: int
    kind: str = Field(examples=["approved"])
    node: str | None = Field(description="Where it happened: a task's node for every task entry; for "
                                         "`returned` the node returned from (detail names origin and target)")
    task_id: str | None = Field(description="The task, for every task entry and for form edits made at one")
    actor: str
    comment: str | None
    detail: Any = Field(description="Kind-specific facts (free-form JSON); field rules apply to form edits")
    occurred_at: Instant


class InstancePublic(InstanceSummaryPublic):
    visited: list[str]
    current_handlers: list[str]
    data: dict[str, Any] = Field(description="Form data; fields the field rules hide from you are absent")
    hidden_fields: list[str] = Field(description="Fields this flow's node permissions hide from you")
    tasks: list[InstanceTaskPublic]
    timeline: list[TimelineEntryPublic]
    mermaid: str
    parent: CallParentPublic | None = Field(None, description="父子流程: the flow that called this one")
    children: list[CallChildPublic] = Field(default_factory=list, description="父子流程: the flows this one called")


class TimelinePage(Page):
    items: list[TimelineEntryPublic]


class InstanceChangePublic(BaseModel):
    """One added / changed / removed field or sub-table row (rows matched by id) of a form edit."""
    version: int = Field(description="The instance version the edit made")
    seq: int
    kind: str = Field(description="added, changed or removed")
    path: str = Field(examples=["rates.fee_items[id=r1].percent"])
    old_value: Any = None
    new_value: Any = None
    node: str | None
    task_id: str | None
    actor: str
    occurred_at: Instant


class InstanceChangesPage(Page):
    items: list[InstanceChangePublic]


class PauseEndedPublic(BaseModel):
    outcome: Literal["ended"]


class BatchResultPublic(BaseModel):
    instance_id: UUID
    task_id: str
    status: int = Field(description="The HTTP status this item alone would have answered")
    position: int | None = Field(None, description="Present when the item succeeded")
    code: str | None = Field(None, description="Present when the item failed")
    detail: str | None = Field(None, description="Present when the item failed")


def _instance(container: ContainerDep, policy: Policy, instance_id: UUID) -> dict[str, Any]:
    row = container.instance_queries.instance(instance_id)
    policy.require_scoped(f"flow instance {instance_id}", row)
    return row


def require_visible(container: ContainerDep, policy: Policy, instance_id: UUID) -> str:
    """The one visibility check of an instance outside its read model: its scope from the event
    store, so acting right after starting works (the department is read fresh: an administrator
    may have moved the flow). Answers the instance's business line."""
    scope = container.flows.scope_of(instance_id)  # NotFoundError names the instance
    policy.require_scoped(f"flow instance {instance_id}", scope)
    return str(scope["business_line"])


def acting_on(request: Request, container: ContainerDep, policy: Policy, instance_id: UUID) -> CommandContext:
    """A command on an instance: visible to the caller, run in the instance's business line."""
    return policy.context(request.state.correlation_id, require_visible(container, policy, instance_id))


@router.post("/instances", status_code=201, response_model=CommandAccepted,
             summary="Start a flow: the form is validated against the pinned version (422 per field).",
             responses={404: {"description": "The flow or fund account does not exist or lies outside your scope."},
                        422: {"description": "The form data breaks the pinned version's rules, per field."}})
def start(body: InstanceStart, request: Request, container: ContainerDep, policy: Starter,
          response: Response) -> CommandAccepted:
    try:  # the aggregate, not the read model: starting right after publishing must work
        line = container.flows.definition(body.definition).business_line
    except NotFoundError:
        raise NotFoundError(f"flow {body.definition!r} does not exist", field="definition") from None
    policy.require_line(f"flow {body.definition!r}", line, field="definition")
    department = policy.principal.department_id
    if body.fund_account:
        # A known customer's account must lie in the starter's data scope (404 like a missing
        # one); an account not (yet) in the customer directory files under the starter's department.
        customer = container.forms_queries.customer(body.fund_account)
        if customer:
            department = customer["department_id"]
            if not policy.sees(business_line=line, department_id=department, investor_account=body.fund_account):
                raise NotFoundError(f"fund account {body.fund_account} does not exist", field="fund_account")
    # Field rules hold at the start as at every later edit: a field a rule makes read-only,
    # masked or hidden for the starter cannot be filled in by them (403 naming it).
    policy.require_editable(RESOURCE, _changed_names({}, body.data))
    ctx = policy.context(request.state.correlation_id, line)
    result = container.flows.start_instance(ctx, body.definition, body.subject, body.data, title=body.title,
                                            fund_account=body.fund_account, department_id=department)
    response.headers["Location"] = f"{router.prefix}/instances/{result.id}"
    return accepted(result, response)


INVALID_CURSOR = {400: {"description": "`invalid_cursor`: use next_cursor from a previous page."}}
Limit = Annotated[int, Query(ge=1, le=200)]
Keyword = Annotated[str | None, Query(min_length=1, max_length=100,
                                      description="Substring of the title, fund account or summary fields")]


_cursor = typed_cursor  # the typed keyset cursor of every list (interfaces/api/pagination.py)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def present_summary(policy: Policy, summary: dict[str, Any]) -> dict[str, Any]:
    """Summary values through the field rules, matched by name as in the form data."""
    if not summary:
        return {}
    nested: dict[str, Any] = {}
    for path, value in summary.items():
        *parents, leaf = path.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[leaf] = value
    shown = policy.present(RESOURCE, {"data": nested})["data"]
    out = {}
    for path in summary:
        value: Any = shown
        for part in path.split("."):
            value = value.get(part, HIDDEN) if isinstance(value, dict) else HIDDEN
        if value is not HIDDEN:
            out[path] = value
    return out


@router.get("/todo", response_model=TodoPage, dependencies=[READS],
            summary="Your open tasks: filterable, sortable (opened, SLA due, urgency), keyset-paginated.",
            responses=INVALID_CURSOR)
def todo(container: ContainerDep, policy: Handler, business_type: str | None = None,
         business_line: str | None = None, initiator: str | None = None, fund_account: str | None = None,
         node: str | None = None, urgent: bool | None = None, since: datetime | None = None,
         until: datetime | None = None, keyword: Keyword = None,
         sort: Annotated[Literal["opened_desc", "opened_asc", "sla_due", "urgency"], Query(
             description="urgency: urgent first, then by SLA due (none last)")] = "opened_desc",
         cursor: str | None = None, limit: Limit = 50) -> TodoPage:
    after = _cursor(cursor, "at", "bool", "id", "text")
    filters = {"bt": business_type, "line": business_line, "initiator": initiator, "account": fund_account,
               "node": node, "urgent": urgent, "since": since, "until": until, "keyword": keyword}
    rows = container.instance_queries.todo(policy.principal.actor, policy.scope_params(), filters=filters, sort=sort,
                                           after=after, limit=limit + 1)
    items = rows[:limit]
    nxt = None
    if len(rows) > limit:
        last = items[-1]
        at = last["opened_at"] if sort.startswith("opened") else last["sla_due_at"]
        nxt = encode_cursor([_iso(at), int(last["urgent"]), str(last["instance_id"]), last["task_id"]])
    counts = container.instance_queries.todo_counts(policy.principal.actor, policy.scope_params(), filters)
    return TodoPage(items=[TodoItemPublic(**{**r, "summary": present_summary(policy, r["summary"])}) for r in items],
                    next_cursor=nxt, counts=[TodoCountPublic(**c) for c in counts])


@router.get("/done", response_model=DonePage, dependencies=[READS], responses=INVALID_CURSOR,
            summary="Tasks you have decided: still-open ones first, then newest closed first (keyset-paged).")
def done(container: ContainerDep, policy: Handler, cursor: str | None = None, limit: Limit = 50) -> DonePage:
    rows = container.instance_queries.done(policy.principal.actor, policy.scope_params(),
                                           after=_cursor(cursor, "at", "id", "text"), limit=limit + 1)
    items = rows[:limit]
    nxt = encode_cursor([_iso(items[-1]["closed_at"]), str(items[-1]["instance_id"]), items[-1]["task_id"]]) \
        if len(rows) > limit else None
    return DonePage(items=[DoneTaskPublic(**r) for r in items], next_cursor=nxt)


@router.get("/copied", response_model=CopiedPage, dependencies=[READS], responses=INVALID_CURSOR,
            summary="Flows copied (CC'd) to you, newest first (keyset-paged).")
def copied(container: ContainerDep, policy: Viewer, cursor: str | None = None, limit: Limit = 50) -> CopiedPage:
    rows = container.instance_queries.copied_to(policy.principal.actor, policy.scope_params(),
                                                after=_cursor(cursor, "at!", "id"), limit=limit + 1)
    items = rows[:limit]
    nxt = encode_cursor([items[-1]["copied_at"].isoformat(), str(items[-1]["instance_id"])]) \
        if len(rows) > limit else None
    return CopiedPage(items=[CopiedPublic(**r) for r in items], next_cursor=nxt)


@router.get("/initiated", response_model=InitiatedPage, dependencies=[READS], responses=INVALID_CURSOR,
            summary="Flows you started, newest first (keyset-paged).")
def initiated(container: ContainerDep, policy: Starter, cursor: str | None = None,
              limit: Limit = 50) -> InitiatedPage:
    rows = container.instance_queries.initiated(policy.principal.actor, policy.scope_params(),
                                                after=_cursor(cursor, "at!", "id"), limit=limit + 1)
    items = rows[:limit]
    nxt = encode_cursor([items[-1]["started_at"].isoformat(), str(items[-1]["id"])]) if len(rows) > limit else None
    return InitiatedPage(items=[InstanceSummaryPublic(**{**r, "summary": present_summary(policy, r["summary"])})
                                for r in items], next_cursor=nxt)


@router.get("/instances/{instance_id}", response_model=InstancePublic, dependencies=[READS],
            summary="One instance: current nodes and handlers, tasks, timeline, form data, diagram (ETag = its "
                    "version).", responses=NOT_FOUND)
def detail(instance_id: UUID, container: ContainerDep, policy: Viewer, response: Response) -> InstancePublic:
    row = _instance(container, policy, instance_id)
    instance = container.flows.instance(instance_id)
    graph = container.flows.published_graph(row["definition_key"], row["definition_version"])
    tasks = container.instance_queries.tasks(instance_id)
    response.headers["ETag"] = f'"{instance.version}"'
    hidden = _viewer_hidden(instance, graph, policy.principal.actor)
    data = drop_paths(instance.data, hidden)

    def present(record: dict[str, Any]) -> dict[str, Any]:
        return policy.present(RESOURCE, {"data": record})["data"]

    timeline = _present_timeline(container.instance_queries.timeline(instance_id), present, hidden)
    return InstancePublic(
        **{k: v for k, v in row.items() if k not in ("tokens", "position", "summary")},
        summary=present_summary(policy, row.get("summary") or {}),
        current_handlers=sorted({h for t in instance.tasks.values() if t.status == "open"
                                 for h in instance.current_handlers(t)}),
        data=present(data), hidden_fields=sorted(hidden),
        tasks=[InstanceTaskPublic(**t) for t in tasks], timeline=[TimelineEntryPublic(**e) for e in timeline],
        mermaid=to_mermaid(graph, current=set(row["current_nodes"]), visited=set(row["visited"])),
        **present_calls(policy, container.instance_queries.calls(instance_id)))


def _viewer_hidden(instance: Any, graph: Any, actor: str) -> set[str]:
    """Fields a node hides from its handlers (节点字段权限): hidden from whoever is or was a
    candidate, signer or decider at that node, not only from its current handlers."""
    def involved(t: Task) -> bool:
        people = {*t.candidates, *t.approvals, *t.rejections, *t.before, *t.after}
        return actor in people or (t.status == "open" and actor in instance.current_handlers(t))
    known = {n.id for n in graph.nodes}
    retired = getattr(instance, "retired_hidden", {})  # nodes a migration left behind (ADR 0012)
    return {field for t in instance.tasks.values() if involved(t)
            for field in (hidden_paths(graph.node(t.node).field_permissions) if t.node in known
                          else retired.get(t.node, []))}


def _present_timeline(entries: list[dict[str, Any]], present: Any, hidden: set[str]) -> list[dict[str, Any]]:
    return [{**e, "detail": present_form_edit(e["detail"], present, hidden)}
            if e["kind"] == "form_edited" and isinstance(e.get("detail"), dict) else e for e in entries]


def _viewer(container: ContainerDep, policy: Policy, instance_id: UUID) -> tuple[Any, set[str]]:
    """What shapes a viewer's view of an instance's form data: field rules and node-hidden fields."""
    row = _instance(container, policy, instance_id)
    instance = container.flows.instance(instance_id)
    graph = container.flows.published_graph(row["definition_key"], row["definition_version"])

    def present(record: dict[str, Any]) -> dict[str, Any]:
        return policy.present(RESOURCE, {"data": record})["data"]
    return present, _viewer_hidden(instance, graph, policy.principal.actor)


@router.get("/instances/{instance_id}/timeline", response_model=TimelinePage, dependencies=[READS],
            summary="The instance's timeline in order (keyset-paged; form edits through the field rules).",
            responses={**NOT_FOUND, **INVALID_CURSOR})
def timeline(instance_id: UUID, container: ContainerDep, policy: Viewer, cursor: str | None = None,
             limit: Limit = 50) -> TimelinePage:
    present, hidden = _viewer(container, policy, instance_id)
    after = _cursor(cursor, "int")
    rows = container.instance_queries.timeline(instance_id, after=after[0] if after else None, limit=limit + 1)
    items = rows[:limit]
    return TimelinePage(items=[TimelineEntryPublic(**e) for e in _present_timeline(items, present, hidden)],
                        next_cursor=encode_cursor([items[-1]["seq"]]) if len(rows) > limit else None)


@router.get("/instances/{instance_id}/changes", response_model=InstanceChangesPage, dependencies=[READS],
            summary="Every added / changed / removed form field and sub-table row (rows by id) per edit, with "
                    "node, task and operator; field rules and node-hidden fields apply (keyset-paged).",
            responses={**NOT_FOUND, **INVALID_CURSOR})
def changes(instance_id: UUID, container: ContainerDep, policy: Viewer, cursor: str | None = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 200) -> InstanceChangesPage:
    present, hidden = _viewer(container, policy, instance_id)
    after = _cursor(cursor, "int", "int")
    rows = container.instance_queries.monitor.changes(instance_id, after=after, limit=limit + 1)
    items = []
    for change in rows[:limit]:
        segments = [re.sub(r"\[id=.*?\]$", "", p) for p in change["path"].split(".")]
        shown = {side: present_change(segments, change[side], present, hidden) if change[side] is not None
                 else None for side in ("old_value", "new_value")}
        if HIDDEN in shown.values():
            continue  # a field hidden from you: its edits are not yours to see
        items.append(InstanceChangePublic(**{**change, **shown}))
    last = rows[limit - 1] if len(rows) > limit else None
    return InstanceChangesPage(items=items,
                               next_cursor=encode_cursor([last["version"], last["seq"]]) if last else None)


# Answers of the task actions (docs/flows.md "Errors"): an unknown task is `task_not_found` (404);
# a finished flow `instance_not_running` (409); an excluded person `segregation_of_duties` (403).
TASK_ERRORS = {
    404: {"description": "`not_found`: the instance does not exist or lies outside your data scope; "
                         "`task_not_found`: it has no such task."},
    409: {"description": "`task_already_decided`: another handler decided first; `instance_not_running`: "
                         "the flow is withdrawn, terminated, rejected or completed."},
    403: {"description": "`forbidden`: not a current handler; `segregation_of_duties`: the node must be "
                         "independent of you (you started the flow or acted at a node it reviews)."}}


@router.post("/instances/{instance_id}/tasks/{task_id}/approve", response_model=CommandAccepted,
             summary="Approve a task (all-sign approvals made at once all count).",
             responses={**TASK_ERRORS, 422: {"description": "`required_fields_missing`: the node's required fields "
                                                              "are absent or invalid (each path in `errors`)."}})
def approve(instance_id: UUID, task_id: str, body: Decision, request: Request, container: ContainerDep,
            policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.approve(ctx, instance_id, task_id, body.comment), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/reject", response_model=CommandAccepted,
             summary="Reject: the flow ends as rejected (a vote only once its threshold is out of reach).",
             responses={**TASK_ERRORS, **RULE})
def reject(instance_id: UUID, task_id: str, body: Rejection, request: Request, container: ContainerDep,
           policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.reject(ctx, instance_id, task_id, body.comment, body.reason_code), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/return", response_model=CommandAccepted,
             summary="Return to the initiator, the previous node or an allowed earlier node.",
             responses={**TASK_ERRORS, **RULE})
def return_to(instance_id: UUID, task_id: str, body: ReturnTo, request: Request, container: ContainerDep,
              policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.return_to(ctx, instance_id, task_id, body.target, body.comment,
                                              body.reason_code), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/take-back", response_model=CommandAccepted,
             summary="Take back (拿回) a task you approved while nobody after it has acted.",
             responses={**TASK_ERRORS, 409: {"description": "`already_acted`: someone after the task has acted "
                                                              "(or the flow moved on); `instance_not_running`."},
                        **RULE})
def take_back(instance_id: UUID, task_id: str, body: Decision, request: Request, container: ContainerDep,
              policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.take_back(ctx, instance_id, task_id, body.comment), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/transfer", response_model=CommandAccepted,
             summary="Hand your part of a task to another operator.",
             responses={**TASK_ERRORS, **RULE})
def transfer(instance_id: UUID, task_id: str, body: Transfer, request: Request, container: ContainerDep,
             policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.transfer(ctx, instance_id, task_id, body.to, body.comment), response)


class FormEdit(BaseModel):
    data: dict[str, Any]


@router.put("/instances/{instance_id}/tasks/{task_id}/form", response_model=CommandAccepted,
            summary="Edit the form at your node, within its field permissions (send the ETag as If-Match).",
            responses={**NOT_FOUND, **STALE,
                       403: {"description": "A field a rule makes hidden, masked or read-only for you changed."},
                       422: {"description": "The form data breaks the version's rules, per field."}})
def edit_form(instance_id: UUID, task_id: str, body: FormEdit, request: Request, container: ContainerDep,
              policy: Handler, expected: ExpectedVersion, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    data = _sent_data(container, policy, instance_id, body.data)
    return accepted(container.flows.edit_at_task(ctx, instance_id, task_id, data, expected), response)


def _names(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {n for v in value.values() for n in _names(v)}
    if isinstance(value, list):
        return {n for v in value for n in _names(v)}
    return set()


def _sent_data(container: ContainerDep, policy: Policy, instance_id: UUID, sent: dict[str, Any]) -> dict[str, Any]:
    """Form data sent by a handler (checked by ``acting_on`` first): what the field rules kept from
    them (masked values echoed back, hidden fields left out) is restored from the stored data;
    changing a field a rule makes hidden, masked or read-only for them is refused (403) — a masked
    value never overwrites."""
    instance = container.flows.instance(instance_id)
    stored = instance.data
    graph = container.flows.published_graph(instance.definition_key, instance.definition_version)
    view = drop_paths(policy.present(RESOURCE, {"data": stored})["data"],
                      _viewer_hidden(instance, graph, policy.principal.actor))
    data = restore_unseen(sent, view, stored)
    policy.require_editable(RESOURCE, _changed_names(stored, data))
    return data


def _changed_names(stored: dict[str, Any], data: dict[str, Any]) -> set[str]:
    """Every field name and dotted path an edit from ``stored`` to ``data`` touches."""
    changed: set[str] = set()
    for change in diff(stored, data):
        parts = [re.sub(r"\[.*?\]", "", p) for p in change.path.split(".")]
        changed |= {*parts, *(".".join(parts[:i]) for i in range(1, len(parts) + 1))}
        changed |= _names(change.old) | _names(change.new)  # a section added or removed whole
    return changed


@router.post("/instances/{instance_id}/tasks/{task_id}/delegate", response_model=CommandAccepted,
             summary="Delegate (委派): the delegate gives an opinion and the task comes back to you.",
             responses={**TASK_ERRORS, **RULE})
def delegate(instance_id: UUID, task_id: str, body: Transfer, request: Request, container: ContainerDep,
             policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.delegate(ctx, instance_id, task_id, body.to, body.comment), response)


class AddSigner(BaseModel):
    signer: str = Field(pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")
    position: Literal["before", "after"] = Field(description="before: they sign first, then it comes back to "
                                                             "you; after: they sign before the flow goes on")
    comment: Comment


@router.post("/instances/{instance_id}/tasks/{task_id}/signers", response_model=CommandAccepted,
             summary="Add a signer (加签) before or after yourself.",
             responses={**TASK_ERRORS, **RULE})
def add_signer(instance_id: UUID, task_id: str, body: AddSigner, request: Request, container: ContainerDep,
               policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.add_signer(ctx, instance_id, task_id, body.signer, body.position,
                                               body.comment), response)


SIGNER_REMOVAL = {**TASK_ERRORS, 409: {"description": "`already_signed`: the signer has signed; "
                                                    "`task_already_decided`, `instance_not_running`."}, **RULE}


@router.delete("/instances/{instance_id}/tasks/{task_id}/signers/{signer}", response_model=CommandAccepted,
               summary="Remove a signer you added (减签) before they sign.", responses=SIGNER_REMOVAL)
def remove_signer(instance_id: UUID, task_id: str, signer: Annotated[str, Path(
                      pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")],
                  request: Request, container: ContainerDep, policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.remove_signer(ctx, instance_id, task_id, signer, ""), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/signers/remove", response_model=CommandAccepted,
             summary="Remove a signer you added (减签) before they sign, with a comment.", responses=SIGNER_REMOVAL)
def remove_signer_with_comment(instance_id: UUID, task_id: str, body: RemoveSigner, request: Request,
                               container: ContainerDep, policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.remove_signer(ctx, instance_id, task_id, body.signer, body.comment), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/urge", response_model=CommandAccepted,
             summary="Urge (催办): marks the task urgent in its handlers' todo lists.",
             responses={**NOT_FOUND, **DECIDED, **RULE})
def urge(instance_id: UUID, task_id: str, request: Request, container: ContainerDep, policy: Viewer,
         response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.urge(ctx, instance_id, task_id), response)


class Copy(BaseModel):
    to: list[Annotated[str, Field(pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")]] = Field(min_length=1,
                                                                                            max_length=50)
    note: Comment


@router.post("/instances/{instance_id}/cc", response_model=CommandAccepted, summary="CC (抄送) operators.",
             responses=NOT_FOUND)
def cc(instance_id: UUID, body: Copy, request: Request, container: ContainerDep, policy: Viewer,
       response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.cc(ctx, instance_id, body.to, body.note), response)


@router.post("/instances/{instance_id}/cc/read", response_model=CommandAccepted,
             summary="Mark what was copied to you (抄送) on this flow as read.",
             responses={**NOT_FOUND, 409: {"description": "`already_read`: nothing unread was copied to you."}})
def cc_read(instance_id: UUID, request: Request, container: ContainerDep, policy: Viewer,
            response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.mark_cc_read(ctx, instance_id), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/claim", response_model=CommandAccepted,
             summary="Claim (认领) a task offered to several people: the others no longer see it.",
             responses={**TASK_ERRORS, 409: {"description": "`already_claimed`: another candidate claimed it; "
                                                              "`task_already_decided`, `instance_not_running`."},
                        **RULE})
def claim(instance_id: UUID, task_id: str, request: Request, container: ContainerDep, policy: Handler,
          response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.claim(ctx, instance_id, task_id), response)


@router.post("/instances/{instance_id}/resubmit", response_model=CommandAccepted,
             summary="The initiator resubmits a flow returned to them (optionally with new data).",
             responses={**NOT_FOUND, **RULE})
def resubmit(instance_id: UUID, body: Resubmit, request: Request, container: ContainerDep, policy: Starter,
             response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    data = None if body.data is None else _sent_data(container, policy, instance_id, body.data)
    return accepted(container.flows.resubmit(ctx, instance_id, data), response)


@router.post("/instances/{instance_id}/withdraw", response_model=CommandAccepted,
             summary="The initiator withdraws before anyone has decided.",
             responses={**NOT_FOUND, **RULE})
def withdraw(instance_id: UUID, body: Reason, request: Request, container: ContainerDep, policy: Starter,
             response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.withdraw(ctx, instance_id, body.reason), response)


@router.post("/instances/{instance_id}/remarks", response_model=CommandAccepted, summary="Add a remark (备注).",
             responses=NOT_FOUND)
def remark(instance_id: UUID, body: Remark, request: Request, container: ContainerDep, policy: Viewer,
           response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.remark(ctx, instance_id, body.text), response)


@router.post("/instances/{instance_id}/pauses/{token}/end", response_model=PauseEndedPublic,
             summary="Monitoring: end a pause early, with a reason.",
             responses={**NOT_FOUND, 409: {"description": "`pause_not_running`: that pause is not running."}})
def end_pause(instance_id: UUID, token: str, body: Reason, request: Request, container: ContainerDep,
              policy: Admin) -> PauseEndedPublic:
    ctx = acting_on(request, container, policy, instance_id)
    outcome = container.flows.end_pause(ctx, instance_id, token, early=True, reason=body.reason)
    if outcome != "ended":
        raise ApiProblem(409, "pause_not_running", "that pause is not running", field="token")
    return PauseEndedPublic(outcome=outcome)


@router.post("/tasks/batch", response_model=list[BatchResultPublic], response_model_exclude_unset=True,
             summary="Approve or reject many tasks; each item succeeds or fails on its own.")
def batch(body: Batch, request: Request, container: ContainerDep, policy: Handler) -> list[BatchResultPublic]:
    results = []
    for item in body.items:
        try:
            ctx = acting_on(request, container, policy, item.instance_id)
            decide = container.flows.approve if body.action == "approve" else container.flows.reject
            result = decide(ctx, item.instance_id, item.task_id, body.comment)
            results.append({**item.model_dump(mode="json"), "status": 200, "position": result.position})
        except DomainError as exc:
            status = next(s for cls, s in STATUS_BY_ERROR if isinstance(exc, cls))
            results.append({**item.model_dump(mode="json"), "status": status, "code": exc.code,
                            "detail": exc.message})
        except Exception:  # one item's unexpected failure must not lose the others' answers
            log.exception("batch %s of %s/%s failed", body.action, item.instance_id, item.task_id)
            results.append({**item.model_dump(mode="json"), "status": 500, "code": "internal_error",
                            "detail": "this item failed unexpectedly; the others are unaffected"})
    return [BatchResultPublic(**r) for r in results]
