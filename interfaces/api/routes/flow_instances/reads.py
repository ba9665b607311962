"""flows: the lists (todo, done, copied, initiated) and one instance's detail, timeline and changes."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from application.access.policy import Policy
from domain.flows.diagram import to_mermaid
from domain.flows.fields import _ABSENT as HIDDEN  # present_change's "not for you" marker
from domain.flows.fields import present_change
from interfaces.api.deps import ContainerDep
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.routes.flow_calls import present_calls
from interfaces.api.routes.flow_instances.common import (
    READS,
    Handler,
    Keyword,
    Limit,
    Starter,
    Viewer,
    _iso,
    _present_timeline,
    instance_view,
    present_summary,
)
from interfaces.api.routes.flow_instances.schemas import (
    NOT_FOUND,
    CopiedPage,
    CopiedPublic,
    DonePage,
    DoneTaskPublic,
    InitiatedPage,
    InstanceChangePublic,
    InstanceChangesPage,
    InstancePublic,
    InstanceSummaryPublic,
    InstanceTaskPublic,
    SystemTaskPublic,
    TimelineEntryPublic,
    TimelinePage,
    TodoCountPublic,
    TodoItemPublic,
    TodoPage,
)

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])


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
    after = typed_cursor(cursor, "at", "bool", "id", "text")
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
                                           after=typed_cursor(cursor, "at", "id", "text"), limit=limit + 1)
    items = rows[:limit]
    nxt = encode_cursor([_iso(items[-1]["closed_at"]), str(items[-1]["instance_id"]), items[-1]["task_id"]]) \
        if len(rows) > limit else None
    return DonePage(items=[DoneTaskPublic(**r) for r in items], next_cursor=nxt)


@router.get("/copied", response_model=CopiedPage, dependencies=[READS], responses=INVALID_CURSOR,
            summary="Flows copied (CC'd) to you, newest first (keyset-paged).")
def copied(container: ContainerDep, policy: Viewer, cursor: str | None = None, limit: Limit = 50) -> CopiedPage:
    rows = container.instance_queries.copied_to(policy.principal.actor, policy.scope_params(),
                                                after=typed_cursor(cursor, "at!", "id"), limit=limit + 1)
    items = rows[:limit]
    nxt = encode_cursor([items[-1]["copied_at"].isoformat(), str(items[-1]["instance_id"])]) \
        if len(rows) > limit else None
    return CopiedPage(items=[CopiedPublic(**r) for r in items], next_cursor=nxt)


@router.get("/initiated", response_model=InitiatedPage, dependencies=[READS], responses=INVALID_CURSOR,
            summary="Flows you started, newest first (keyset-paged).")
def initiated(container: ContainerDep, policy: Starter, cursor: str | None = None,
              limit: Limit = 50) -> InitiatedPage:
    rows = container.instance_queries.initiated(policy.principal.actor, policy.scope_params(),
                                                after=typed_cursor(cursor, "at!", "id"), limit=limit + 1)
    items = rows[:limit]
    nxt = encode_cursor([items[-1]["started_at"].isoformat(), str(items[-1]["id"])]) if len(rows) > limit else None
    return InitiatedPage(items=[InstanceSummaryPublic(**{**r, "summary": present_summary(policy, r["summary"])})
                                for r in items], next_cursor=nxt)


@router.get("/instances/{instance_id}", response_model=InstancePublic, dependencies=[READS],
            summary="One instance: current nodes and handlers, tasks, timeline, form data, diagram (ETag = its "
                    "version).", responses=NOT_FOUND)
def detail(instance_id: UUID, container: ContainerDep, policy: Viewer, response: Response) -> InstancePublic:
    view = instance_view(container, policy, instance_id)
    row = view.row
    response.headers["ETag"] = f'"{view.version}"'
    timeline = _present_timeline(container.instance_queries.timeline(instance_id), view.present, view.hidden)
    return InstancePublic(
        **{k: v for k, v in row.items() if k not in ("tokens", "position", "summary", "data", "tasks", "handlers")},
        summary=present_summary(policy, row.get("summary") or {}),
        current_handlers=view.handlers, data=view.present(view.data), hidden_fields=sorted(view.hidden),
        tasks=[InstanceTaskPublic(**t) for t in row["tasks"]], timeline=[TimelineEntryPublic(**e) for e in timeline],
        mermaid=to_mermaid(view.graph, current=set(row["current_nodes"]), visited=set(row["visited"])),
        system_tasks=present_system_tasks(policy, container.instance_queries.system_tasks(instance_id)),
        **present_calls(policy, container.instance_queries.calls(instance_id)))


# A hook whose answer only some may read: an AML screening's hit must not reach the business's
# initiator or anyone who could tip the customer off (人员筛查: a hit stops the service without
# telling them) — its result is compliance's. Gateways still read it (outputs.<node>).
CONFIDENTIAL_RESULTS = {"aml_screening": "compliance.screening.view"}


def present_system_tasks(policy: Policy, rows: list[dict[str, Any]]) -> list[SystemTaskPublic]:
    return [SystemTaskPublic(**{**r, "result": r["result"] if policy.can(CONFIDENTIAL_RESULTS.get(r["hook"], ""))
                                or r["hook"] not in CONFIDENTIAL_RESULTS else None}) for r in rows]


@router.get("/instances/{instance_id}/timeline", response_model=TimelinePage, dependencies=[READS],
            summary="The instance's timeline in order (keyset-paged; form edits through the field rules).",
            responses={**NOT_FOUND, **INVALID_CURSOR})
def timeline(instance_id: UUID, container: ContainerDep, policy: Viewer, cursor: str | None = None,
             limit: Limit = 50) -> TimelinePage:
    view = instance_view(container, policy, instance_id)
    present, hidden = view.present, view.hidden
    after = typed_cursor(cursor, "int")
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
    view = instance_view(container, policy, instance_id)
    present, hidden = view.present, view.hidden
    after = typed_cursor(cursor, "int", "int")
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
