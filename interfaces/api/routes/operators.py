"""access: operators — profiles, passwords, status, roles, business lines, data scope, export."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, EmailStr, Field

from application.access.policy import Policy
from application.shared.spreadsheet import safe_cell
from domain.shared.errors import PermissionDeniedError
from interfaces.api.deps import (
    ACCESS_PROJECTIONS,
    Acting,
    ContainerDep,
    ExpectedVersion,
    consistent_with,
    login_rule,
    requires,
    security_barrier,
)
from interfaces.api.pagination import encode_cursor, typed_cursor
from interfaces.api.problems import ApiProblem
from interfaces.api.schemas import CommandAccepted, Page, accepted

router = APIRouter(prefix="/api/v1/access/operators", tags=["access"])
RESOURCE = "access.operator"
Consistent = Depends(consistent_with(*ACCESS_PROJECTIONS))
Viewer = Annotated[Policy, Depends(requires("access.operators.view"))]
Manager = Annotated[Policy, Depends(requires("access.operators.manage"))]
RoleAdmin = Annotated[Policy, Depends(requires("access.roles.manage"))]
ScopeAdmin = Annotated[Policy, Depends(requires("access.scopes.manage"))]
Exporter = Annotated[Policy, Depends(requires("access.operators.export"))]

Phone = Annotated[str | None, Field(None, pattern=r"^1[3-9]\d{9}$", examples=["13812345678"],
                                    description="Mainland mobile number")]
Key = Annotated[str, Field(min_length=2, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]


class OperatorCreate(BaseModel):
    login_name: str = Field(min_length=3, max_length=32, examples=["zhang.wei"],
                            description="Unique and permanent; lower-case letters, digits, '.', '_', '-'")
    display_name: str = Field(min_length=1, max_length=64, examples=["张伟"])
    department_id: UUID
    phone: Phone = None
    email: EmailStr | None = None
    password: str | None = Field(None, min_length=1, max_length=256,
                                 description="Initial password: ≥ 10 characters, three character classes")


class OperatorProfile(BaseModel):
    """Only the fields sent are changed; a field you may not see or edit cannot be sent."""

    display_name: str | None = Field(None, min_length=1, max_length=64)
    department_id: UUID | None = None
    phone: Phone = None
    email: EmailStr | None = None


class DepartmentMove(BaseModel):
    department_id: UUID


class PasswordReset(BaseModel):
    password: str = Field(min_length=1, max_length=256)


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class Roles(BaseModel):
    roles: list[Key] = Field(min_length=1, max_length=50)


class BusinessLines(BaseModel):
    business_lines: list[Key] = Field(max_length=50)


class JurisdictionItem(BaseModel):
    department_id: UUID
    include_children: bool = Field(True, description="Whether the sub-departments are in scope too")


class DataScope(BaseModel):
    jurisdiction: list[JurisdictionItem] = Field(max_length=200)
    investor_accounts: list[Annotated[str, Field(pattern=r"^[0-9A-Za-z]{4,32}$")]] = Field(
        default_factory=list, max_length=5000, description="Fund accounts visible beyond the jurisdiction")


class OperatorPublic(BaseModel):
    """Fields hidden by a field rule are absent; masked ones are masked."""

    id: UUID
    login_name: str
    display_name: str | None = None
    department_id: UUID | None = None
    phone: str | None = None
    email: str | None = None
    status: str
    roles: list[str] = []
    business_lines: list[str] = []
    jurisdiction: list[dict[str, Any]] = []
    investor_accounts: list[str] = []
    locked_until: datetime | None = None
    pending_department_id: UUID | None = Field(None, description="A department move waiting for a second "
                                                                 "administrator's approval")
    move_requested_by: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime


class OperatorPage(Page):
    items: list[OperatorPublic]


def _visible(container: ContainerDep, policy: Policy, operator_id: UUID) -> dict[str, Any]:
    return policy.require_scoped(f"operator {operator_id}", container.access_queries.operator(operator_id))


def _in_scope_department(policy: Policy, department_id: UUID) -> None:
    policy.require_visible(f"department {department_id}", department_id=department_id)


def _administrable(container: ContainerDep, policy: Policy, operator_id: UUID, *,
                   self_allowed: bool = False) -> dict[str, Any]:
    row = _visible(container, policy, operator_id)
    policy.require_may_administer(row["id"], container.access_queries.permissions_of(list(row["roles"])),
                                  row["business_lines"], self_allowed=self_allowed)
    return row


def _secured(container: ContainerDep, response: Response, result: Any) -> CommandAccepted:
    security_barrier(container, result.position)
    return accepted(result, response)


@router.post("", status_code=201, response_model=CommandAccepted, summary="Create an operator.",
             responses={409: {"description": "The login name is taken."}})
def create_operator(body: OperatorCreate, container: ContainerDep, policy: Manager, ctx: Acting,
                    response: Response) -> CommandAccepted:
    _in_scope_department(policy, body.department_id)
    result = container.access.create_operator(ctx, body.login_name, body.display_name, body.department_id,
                                              body.phone, body.email, body.password)
    response.headers["Location"] = f"{router.prefix}/{result.id}"
    return _secured(container, response, result)


@router.get("", response_model=OperatorPage, dependencies=[Consistent], response_model_exclude_unset=True,
            summary="Operators in your data scope, by login name, keyset-paginated (field rules applied).")
def list_operators(container: ContainerDep, policy: Viewer, department_id: UUID | None = None,
                   status: Annotated[str | None, Query(pattern="^(active|disabled)$")] = None,
                   q: Annotated[str | None, Query(max_length=64)] = None, cursor: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50) -> OperatorPage:
    after = typed_cursor(cursor, "text")
    rows = container.access_queries.operators(policy.scope_params(), department_id=department_id, status=status,
                                              q=q, after=after[0] if after else None, limit=limit + 1)
    items = [OperatorPublic(**r) for r in policy.present_all(RESOURCE, rows[:limit])]
    return OperatorPage(items=items, next_cursor=encode_cursor([items[-1].login_name]) if len(rows) > limit else None)
    # (next_cursor is set explicitly, so it stays in the answer even when null)


def _cell(value: Any) -> str:
    return safe_cell("|".join(value) if isinstance(value, list) else "" if value is None else str(value))


@router.get("/export", summary="Export the operators in your scope as CSV (field rules applied).",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}}, dependencies=[Consistent])
def export_operators(container: ContainerDep, policy: Exporter) -> Response:
    rows, after = [], None
    while True:  # page through the scope so a large firm never loads in one query
        page = container.access_queries.operators(policy.scope_params(), after=after, limit=1000)
        rows += policy.present_all(RESOURCE, page)
        if len(page) < 1000:
            break
        after = page[-1]["login_name"]
    columns = ["login_name", "display_name", "department_id", "phone", "email", "status", "roles", "business_lines"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_cell(r.get(c)) for c in columns])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="operators.csv"'})


@router.get("/{operator_id}", response_model=OperatorPublic, dependencies=[Consistent],
            response_model_exclude_unset=True,
            summary="One operator (field rules applied; ETag = version).")
def get_operator(operator_id: UUID, container: ContainerDep, policy: Viewer, response: Response) -> OperatorPublic:
    row = _visible(container, policy, operator_id)
    response.headers["ETag"] = f'"{row["version"]}"'
    return OperatorPublic(**policy.present(RESOURCE, row))


@router.patch("/{operator_id}", response_model=CommandAccepted, summary="Change an operator's profile.")
def change_profile(operator_id: UUID, body: OperatorProfile, container: ContainerDep, policy: Manager, ctx: Acting,
                   expected: ExpectedVersion, response: Response) -> CommandAccepted:
    row = _administrable(container, policy, operator_id, self_allowed=True)
    sent = body.model_dump(include=body.model_fields_set)
    policy.require_editable(RESOURCE, sent)
    profile = {f: sent.get(f, row[f]) for f in ("display_name", "department_id", "phone", "email")}
    if profile["display_name"] is None or profile["department_id"] is None:
        raise ApiProblem(422, "validation_failed", "display_name and department_id cannot be null",
                         field="display_name" if profile["display_name"] is None else "department_id")
    if profile["department_id"] != row["department_id"]:
        _require_plain_move(container, policy, row, profile["department_id"])
    _in_scope_department(policy, profile["department_id"])
    result = container.access.change_operator_profile(ctx, operator_id, profile["display_name"],
                                                      profile["department_id"], profile["phone"], profile["email"],
                                                      expected)
    return _secured(container, response, result)


def _gained_exemptions(container: ContainerDep, row: dict[str, Any], department_id: UUID) -> list[str]:
    """Field rules that bind the operator in their department today and would not in the new one."""
    roles, old, new = list(row["roles"]), [str(row["department_id"])], [str(department_id)]
    return [f"{r.resource}.{r.field}" for r in
            (container.access_queries.field_rule_view(rule) for rule in container.access_queries.field_rule_rows())
            if r.applies(roles, old) and not r.applies(roles, new)]


def _require_plain_move(container: ContainerDep, policy: Policy, row: dict[str, Any], department_id: UUID) -> None:
    """Nobody moves themselves; a move that frees the operator from a field rule (e.g. into the
    department exempt from a bank-account mask) needs a second administrator."""
    if row["id"] == policy.principal.self_id:
        raise PermissionDeniedError("you cannot move yourself to another department; ask an administrator",
                                    field="department_id")
    _in_scope_department(policy, department_id)
    gained = _gained_exemptions(container, row, department_id)
    if gained:
        raise PermissionDeniedError(
            f"this move would exempt the operator from field rules ({', '.join(sorted(gained)[:5])}); request it "
            f"with POST {router.prefix}/{row['id']}/department-move for a second administrator to approve",
            field="department_id")


@router.post("/{operator_id}/department-move", response_model=CommandAccepted,
             summary="Request a department move that a second administrator must approve (four eyes).")
def request_move(operator_id: UUID, body: DepartmentMove, container: ContainerDep, policy: Manager, ctx: Acting,
                 expected: ExpectedVersion, response: Response) -> CommandAccepted:
    _administrable(container, policy, operator_id)
    _in_scope_department(policy, body.department_id)
    return _secured(container, response, container.access.request_department_move(
        ctx, operator_id, body.department_id, policy.principal.person, expected))


@router.post("/{operator_id}/department-move/approve", response_model=CommandAccepted,
             summary="Approve a requested department move: an administrator with firm-wide reach, not its "
                     "requester nor the operator moved.")
def approve_move(operator_id: UUID, container: ContainerDep, policy: Manager, ctx: Acting,
                 response: Response) -> CommandAccepted:
    row = _administrable(container, policy, operator_id)
    if row.get("pending_department_id") is None:
        raise ApiProblem(409, "no_pending_move", "no department move is waiting for approval")
    _in_scope_department(policy, row["pending_department_id"])
    # The second administrator must stand above the branch: a branch administrator could
    # otherwise create two accounts of their own and approve with one of them.
    policy.require_firm_wide_reach(*container.access_queries.firm(), "approving a move that lifts a field rule")
    return _secured(container, response, container.access.decide_department_move(
        ctx, operator_id, True, policy.principal.person))


@router.post("/{operator_id}/department-move/reject", response_model=CommandAccepted,
             summary="Reject a requested department move.")
def reject_move(operator_id: UUID, container: ContainerDep, policy: Manager, ctx: Acting,
                response: Response) -> CommandAccepted:
    _administrable(container, policy, operator_id)
    return _secured(container, response, container.access.decide_department_move(
        ctx, operator_id, False, policy.principal.person))


@router.post("/{operator_id}/password", response_model=CommandAccepted, summary="Set a new password.")
def set_password(operator_id: UUID, body: PasswordReset, container: ContainerDep, policy: Manager, ctx: Acting,
                 response: Response) -> CommandAccepted:
    _administrable(container, policy, operator_id)
    return _secured(container, response, container.access.set_operator_password(
        ctx, operator_id, body.password, container.access_queries.active_sessions_of(operator_id)))


@router.post("/{operator_id}/disable", response_model=CommandAccepted,
             summary="Disable an operator: every token of theirs fails from the next request.")
def disable(operator_id: UUID, body: Reason, container: ContainerDep, policy: Manager, ctx: Acting,
            response: Response) -> CommandAccepted:
    _administrable(container, policy, operator_id)
    return _secured(container, response, container.access.disable_operator(ctx, operator_id, body.reason))


@router.post("/{operator_id}/enable", response_model=CommandAccepted, summary="Enable a disabled operator.")
def enable(operator_id: UUID, container: ContainerDep, policy: Manager, ctx: Acting,
           response: Response) -> CommandAccepted:
    _administrable(container, policy, operator_id)
    return _secured(container, response, container.access.enable_operator(ctx, operator_id))


@router.post("/{operator_id}/unlock", response_model=CommandAccepted,
             summary="Lift the login delay of an operator (failed logins forgotten; recorded as an event).")
def unlock(operator_id: UUID, container: ContainerDep, policy: Manager, ctx: Acting,
           response: Response) -> CommandAccepted:
    row = _administrable(container, policy, operator_id)
    result = container.access.unlock_operator(ctx, operator_id)
    container.throttle.forget(login_rule(container), f"{row['login_name']}|")
    return _secured(container, response, result)


@router.post("/{operator_id}/roles", response_model=CommandAccepted, summary="Grant roles.")
def grant_roles(operator_id: UUID, body: Roles, container: ContainerDep, policy: RoleAdmin, ctx: Acting,
                response: Response) -> CommandAccepted:
    _administrable(container, policy, operator_id)
    policy.require_grantable(container.access_queries.permissions_of(body.roles))
    return _secured(container, response, container.access.grant_roles(ctx, operator_id, body.roles))


@router.post("/{operator_id}/roles/revoke", response_model=CommandAccepted, summary="Revoke roles.")
def revoke_roles(operator_id: UUID, body: Roles, container: ContainerDep, policy: RoleAdmin, ctx: Acting,
                 response: Response) -> CommandAccepted:
    _administrable(container, policy, operator_id)
    return _secured(container, response, container.access.revoke_roles(ctx, operator_id, body.roles))


@router.put("/{operator_id}/business-lines", response_model=CommandAccepted,
            summary="Set the business lines an operator may work in.")
def set_lines(operator_id: UUID, body: BusinessLines, container: ContainerDep, policy: ScopeAdmin, ctx: Acting,
              response: Response) -> CommandAccepted:
    row = _administrable(container, policy, operator_id)
    policy.require_grantable(lines=body.business_lines)
    # Lines the caller cannot see stay as they are: one cannot revoke what one cannot see.
    kept = [line for line in row["business_lines"] if not policy.sees_line(line)]
    result = container.access.set_business_lines(ctx, operator_id, sorted(set(body.business_lines) | set(kept)))
    return _secured(container, response, result)


@router.put("/{operator_id}/data-scope", response_model=CommandAccepted,
            summary="Set an operator's jurisdiction departments and explicit investor accounts.")
def set_scope(operator_id: UUID, body: DataScope, container: ContainerDep, policy: ScopeAdmin, ctx: Acting,
              response: Response) -> CommandAccepted:
    row = _administrable(container, policy, operator_id)
    # Nobody grants a scope wider than their own: a department "with sub-departments" needs
    # its whole subtree in the caller's scope, and investor accounts must be the caller's too.
    granted = set()
    for item in body.jurisdiction:
        _in_scope_department(policy, item.department_id)
        granted |= container.access_queries.expand_jurisdiction(
            [{"department_id": str(item.department_id), "include_children": item.include_children}])
    policy.require_scope_covers(granted, body.investor_accounts)
    # What the caller cannot see stays as it is: one cannot revoke what one cannot see.
    kept = [j for j in row["jurisdiction"] if not policy.sees(department_id=UUID(j["department_id"]))]
    kept_accounts = [a for a in row["investor_accounts"]
                     if policy.principal.departments is not None and a not in policy.principal.investor_accounts]
    jurisdiction = [j.model_dump(mode="json") for j in body.jurisdiction] + kept
    result = container.access.set_data_scope(ctx, operator_id, jurisdiction,
                                             sorted(set(body.investor_accounts) | set(kept_accounts)))
    return _secured(container, response, result)
