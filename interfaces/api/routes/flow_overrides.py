"""flows: administrator overrides (流程监控) — jump (跳转), form edit, reassign, terminate, move to
another owning department (流程部门调整) — and the second administrator's approval of them where a
flow's ``override_approval`` setting asks for one (四眼原则). docs/flows.md "Overrides"."""
from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from application.flows.overrides import PendingOverride
from application.shared.base import CommandResult
from domain.flows.timeouts import Assignee
from domain.shared.errors import NotFoundError, RuleViolationError
from interfaces.api.deps import ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import ApiProblem, Responses
from interfaces.api.routes.flow_instances import (
    NOT_FOUND,
    STALE,
    Instant,
    Limit,
    _sent_data,
    acting_on,
    require_visible,
)
from interfaces.api.schemas import CommandAccepted, Page, accepted

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])
READS = Depends(consistent_with("flows.instances"))
Admin = Annotated[Policy, Depends(requires("flows.instances.admin"))]
OverrideId = Annotated[str, Path(pattern=r"^o[0-9]{1,6}$", examples=["o1"])]

PENDING: Responses = {
    202: {"description": "The flow requires a second administrator (`override_approval`): the override "
                         "is recorded as a pending request (`override_id`) and applies once another "
                         "administrator approves it."}}
RUNNING: Responses = {
    409: {"description": "`instance_not_running`: the flow is withdrawn, terminated, rejected or completed."}}
RULE: Responses = {
    422: {"description": "The flow's rules refuse the override (e.g. an unknown or unreachable node, a reason "
                         "missing), or the form data breaks the version's rules."}}


class OverrideAccepted(CommandAccepted):
    status: Literal["applied", "pending"] = Field(
        description="`applied`: done; `pending`: waiting for a second administrator (HTTP 202)")
    override_id: str | None = Field(None, description="The pending request to approve or decline", examples=["o1"])


def _answer(result: CommandResult, response: Response) -> OverrideAccepted:
    body = accepted(result, response)
    if isinstance(result, PendingOverride):
        response.status_code = 202
        return OverrideAccepted(**body.model_dump(), status="pending", override_id=result.override_id)
    return OverrideAccepted(**body.model_dump(), status="applied")


class Jump(BaseModel):
    target: str = Field(max_length=48, description="The node to jump to (not an end, a join or a node inside a "
                                                   "parallel or inclusive branch)")
    reason: str = Field(min_length=1, max_length=2000)


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class Reassign(BaseModel):
    assignees: list[Assignee] = Field(min_length=1, max_length=20, examples=[[{"kind": "role", "value": "ops"}]])
    reason: str = Field(min_length=1, max_length=2000)


class AdminFormEdit(BaseModel):
    node: str = Field(max_length=48, description="The node the edit is recorded at (a node of the flow)")
    data: dict[str, Any]
    reason: str = Field(min_length=1, max_length=2000, description="Why the override (kept in the timeline)")


class DepartmentMove(BaseModel):
    department_id: UUID = Field(description="The new owning department (open, within your data scope)")
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/instances/{instance_id}/terminate", response_model=OverrideAccepted,
             summary="Monitoring: terminate a running flow.", responses={**PENDING, **NOT_FOUND, **RUNNING, **RULE})
def terminate(instance_id: UUID, body: Reason, request: Request, container: ContainerDep, policy: Admin,
              response: Response) -> OverrideAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return _answer(container.flows.terminate(ctx, instance_id, body.reason), response)


@router.post("/instances/{instance_id}/jump", response_model=OverrideAccepted,
             summary="Monitoring: jump (跳转) the flow to another node, with a reason.",
             responses={**PENDING, **NOT_FOUND, **RUNNING, **RULE})
def jump(instance_id: UUID, body: Jump, request: Request, container: ContainerDep, policy: Admin,
         response: Response) -> OverrideAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return _answer(container.flows.jump(ctx, instance_id, body.target, body.reason), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/reassign", response_model=OverrideAccepted,
             summary="Monitoring: give an open task to another role, department or operator.",
             responses={**PENDING, **NOT_FOUND, 409: {"description": "`task_already_decided`, `instance_not_running`."},
                        **RULE})
def reassign(instance_id: UUID, task_id: str, body: Reassign, request: Request, container: ContainerDep,
             policy: Admin, response: Response) -> OverrideAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    assignees = [a.model_dump() for a in body.assignees]
    return _answer(container.flows.reassign(ctx, instance_id, task_id, assignees, body.reason), response)


@router.post("/instances/{instance_id}/form", response_model=OverrideAccepted,
             summary="Monitoring: edit the form whatever the node (send the ETag as If-Match).",
             responses={**PENDING, **NOT_FOUND, **STALE,
                        422: {"description": "`unknown_node`, or the form data breaks the version's rules."}})
def admin_edit_form(instance_id: UUID, body: AdminFormEdit, request: Request, container: ContainerDep,
                    policy: Admin, expected: ExpectedVersion, response: Response) -> OverrideAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    data = _sent_data(container, policy, instance_id, body.data)
    instance = container.flows.instance(instance_id)
    graph = container.flows.published_graph(instance.definition_key, instance.definition_version)
    if body.node not in {n.id for n in graph.nodes}:
        raise ApiProblem(422, "unknown_node", f"the flow has no node {body.node!r}", field="node")
    return _answer(container.flows.edit_form(ctx, instance_id, body.node, data, expected, body.reason), response)


@router.post("/instances/{instance_id}/department", response_model=OverrideAccepted,
             summary="Monitoring: move a running flow to another owning department (流程部门调整).",
             responses={**PENDING, 404: {"description": "The instance, or the department, does not exist or lies "
                                                        "outside your data scope."}, **RUNNING, **RULE})
def move_department(instance_id: UUID, body: DepartmentMove, request: Request, container: ContainerDep,
                    policy: Admin, response: Response) -> OverrideAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    _require_department(container, policy, ctx.business_line or "", body.department_id)
    return _answer(container.flows.move_department(ctx, instance_id, body.department_id, body.reason), response)


def _require_department(container: ContainerDep, policy: Policy, line: str, department_id: UUID) -> None:
    """The new department exists, is open, and lies in the caller's data scope (otherwise a move
    would hand the flow to people the administrator could not see it for)."""
    missing = NotFoundError(f"department {department_id} does not exist", field="department_id")
    try:
        department = container.access.department(department_id)
    except NotFoundError:
        raise missing from None
    if not policy.sees(business_line=line, department_id=department_id):
        raise missing
    if department.closed:
        raise RuleViolationError(f"department {department_id} is closed", field="department_id")


# -- the second administrator ---------------------------------------------------------------------
class OverridePublic(BaseModel):
    instance_id: UUID
    override_id: str = Field(examples=["o1"])
    action: Literal["jump", "edit_form", "reassign", "terminate", "move_department"]
    params: dict[str, Any] = Field(description="The action's arguments: target, task_id and candidates, "
                                               "department_id, or the form edit's node and JSON Patch")
    requested_by: str
    reason: str
    status: Literal["pending", "approved", "declined", "lapsed"] = Field(
        description="`lapsed`: the flow finished before anyone decided")
    decided_by: str | None
    decision_reason: str | None
    requested_at: Instant
    decided_at: Instant | None
    title: str
    business_line: str
    department_id: UUID | None
    instance_status: str


class OverridePage(Page):
    items: list[OverridePublic]


class Decline(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _page(rows: list[dict[str, Any]], limit: int) -> OverridePage:
    last = rows[limit - 1] if len(rows) > limit else None
    return OverridePage(items=[OverridePublic(**{k: r[k] for k in OverridePublic.model_fields}) for r in rows[:limit]],
                        next_cursor=encode_cursor([last["requested_at"].isoformat(), str(last["instance_id"]),
                                                   last["override_id"]]) if last else None)


@router.get("/overrides", response_model=OverridePage, dependencies=[READS], responses=INVALID_CURSOR,
            summary="Override requests in your lines and data scope, newest first (default: pending ones).")
def overrides(container: ContainerDep, policy: Admin, cursor: str | None = None, limit: Limit = 50,
              status: Annotated[Literal["pending", "approved", "declined", "lapsed", "all"],
                                Query(description="Default `pending`; `all` is every status")] = "pending",
              ) -> OverridePage:
    after = typed_cursor(cursor, "at!", "id", "text")
    rows = container.instance_queries.overrides.overrides(policy.scope_params(), status=None if status == "all"
                                                          else status, after=after,
                                                          limit=limit + 1)
    return _page(rows, limit)


@router.get("/instances/{instance_id}/overrides", response_model=OverridePage, dependencies=[READS],
            responses={**NOT_FOUND, **INVALID_CURSOR}, summary="Every override request of one flow, newest first.")
def instance_overrides(instance_id: UUID, container: ContainerDep, policy: Admin, cursor: str | None = None,
                       limit: Limit = 50) -> OverridePage:
    require_visible(container, policy, instance_id)
    rows = container.instance_queries.overrides.overrides(policy.scope_params(), status=None, instance_id=instance_id,
                                                          after=typed_cursor(cursor, "at!", "id", "text"),
                                                          limit=limit + 1)
    return _page(rows, limit)


DECIDE: Responses = {404: {"description": "`not_found`: the instance does not exist or lies outside your scope; "
                               "`override_not_found`: it has no such request."},
          403: {"description": "`second_administrator_required`: you asked for this override yourself."},
          409: {"description": "`override_already_decided`; `instance_not_running`; `override_outdated`: the form "
                               "changed since the edit was requested; `task_already_decided`."}}


@router.post("/instances/{instance_id}/overrides/{override_id}/approve", response_model=CommandAccepted,
             summary="Approve another administrator's override: it applies now, as theirs.",
             responses={**DECIDE, **RULE})
def approve_override(instance_id: UUID, override_id: OverrideId, request: Request, container: ContainerDep,
                     policy: Admin, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    found = container.flows.instance(instance_id).overrides.get(override_id)
    if found is not None and found["action"] == "move_department":
        _require_department(container, policy, ctx.business_line or "", UUID(found["params"]["department_id"]))
    return accepted(container.flows.approve_override(ctx, instance_id, override_id), response)


@router.post("/instances/{instance_id}/overrides/{override_id}/decline", response_model=CommandAccepted,
             summary="Decline an override request (or, as its requester, withdraw it).",
             responses={**DECIDE, **RULE})
def decline_override(instance_id: UUID, override_id: OverrideId, body: Decline, request: Request,
                     container: ContainerDep, policy: Admin, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.decline_override(ctx, instance_id, override_id, body.reason), response)

