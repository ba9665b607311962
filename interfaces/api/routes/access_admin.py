"""access: the menu catalogue, roles, business lines, field rules and API tokens."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.access.catalogue import ACTION_KEYS, MENUS, unknown_actions
from domain.access.masking import EFFECTS, FORM_DATA_RESOURCES, MASKS, RULE_FIELDS
from domain.forms.paths import schema_has_path
from domain.shared.errors import NotFoundError, PermissionDeniedError, RuleViolationError
from interfaces.api.deps import (
    ACCESS_PROJECTIONS,
    Acting,
    ContainerDep,
    CurrentPolicy,
    ExpectedVersion,
    consistent_with,
    requires,
    security_barrier,
)
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix="/api/v1/access", tags=["access"])
Consistent = Depends(consistent_with(*ACCESS_PROJECTIONS))
RoleAdmin = Annotated[Policy, Depends(requires("access.roles.manage"))]
LineAdmin = Annotated[Policy, Depends(requires("access.business_lines.manage"))]
RuleAdmin = Annotated[Policy, Depends(requires("access.field_rules.manage"))]
TokenAdmin = Annotated[Policy, Depends(requires("access.api_tokens.manage"))]
Key = Annotated[str, Field(min_length=2, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
RoleKey = Annotated[str, Path(min_length=2, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]


class MenuPublic(BaseModel):
    key: str
    title: str
    actions: list[dict[str, str]]


class RoleCreate(BaseModel):
    key: Key = Field(examples=["clearing"])
    name: str = Field(min_length=1, max_length=64, examples=["清算 Clearing"])
    permissions: list[str] = Field(max_length=500, description="Action keys from GET /api/v1/access/menus")
    owner_department_id: UUID | None = Field(
        None, description="The department that owns the role; only administrators whose scope covers it may "
                          "change it. Omitted: a firm-wide role (needs firm-wide reach), or your own department "
                          "if your reach is not firm-wide.")


class RolePermissions(BaseModel):
    permissions: list[str] = Field(max_length=500)


class RolePublic(BaseModel):
    id: UUID
    key: str
    name: str
    permissions: list[str]
    owner_department_id: UUID | None = Field(None, description="null: a firm-wide role")
    version: int


class LineCreate(BaseModel):
    code: Key = Field(examples=["brokerage"])
    name: str = Field(min_length=1, max_length=64, examples=["经纪 Brokerage"])


class LinePublic(BaseModel):
    id: UUID
    code: str
    name: str
    active: bool


class FieldRuleCreate(BaseModel):
    resource: str = Field(max_length=64, examples=["access.operator"], description="context.resource")
    field: str = Field(max_length=128, examples=["phone"], description="Field name or dotted path")
    effect: str = Field(examples=["masked"], description="One of: " + ", ".join(EFFECTS))
    mask: str | None = Field(None, examples=["phone"], description="For masked: one of " + ", ".join(MASKS))
    applies_to_roles: list[Key] = Field(default_factory=list, description="Empty with no departments: everyone")
    applies_to_departments: list[UUID] = Field(default_factory=list)
    exempt_roles: list[Key] = Field(default_factory=list, description="Never applies to these roles")
    exempt_departments: list[UUID] = Field(default_factory=list)
    business_type: str | None = Field(
        None, max_length=48, pattern=r"^[a-z][a-z0-9_]*$", examples=["tenant_signing"],
        description="For rules on form data (`flows.instance`) naming a path of a form, e.g. the section "
                    "`commercial` or `settlement.bank_account`: the business type whose published form has it")


class FieldRulePublic(BaseModel):
    id: UUID
    resource: str
    field: str
    effect: str
    mask: str | None
    applies_to_roles: list[str]
    applies_to_departments: list[str]
    exempt_roles: list[str]
    exempt_departments: list[str]


class ApiTokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, examples=["douyin-intake"])
    scopes: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=50,
                                                               examples=[["leads.intake:douyin"]])
    permissions: list[str] = Field(default_factory=list, max_length=100)
    business_lines: list[Key] = Field(default_factory=list, max_length=50)
    expires_at: datetime | None = None


class ApiTokenIssued(BaseModel):
    id: UUID
    token: str = Field(description="Shown once; only its hash is stored")
    position: int


class ApiTokenPublic(BaseModel):
    id: UUID
    name: str
    scopes: list[str]
    permissions: list[str]
    business_lines: list[str]
    expires_at: datetime | None
    revoked: bool
    created_by: str
    created_at: datetime


def _secured(container: ContainerDep, response: Response, result: Any) -> CommandAccepted:
    security_barrier(container, result.position)
    return accepted(result, response)


@router.get("/menus", response_model=list[MenuPublic], summary="The catalogue of menus and action keys.")
def menus(_: CurrentPolicy) -> list[MenuPublic]:
    return [MenuPublic(key=m.key, title=m.title, actions=[{"key": a.key, "title": a.title} for a in m.actions])
            for m in MENUS]


def _require_role_reach(container: ContainerDep, policy: Policy, owner: UUID | None) -> None:
    """Firm-wide roles (the administrator's, the auditor's) need firm-wide reach; a role owned
    by a department needs that department in the caller's scope."""
    if owner is None:
        policy.require_firm_wide_reach(*container.access_queries.firm(), "changing a firm-wide role")
    elif not policy.sees(department_id=owner):
        raise PermissionDeniedError("the role belongs to a department outside your data scope",
                                    field="owner_department_id")


@router.post("/roles", status_code=201, response_model=CommandAccepted, summary="Define a role.",
             responses={403: {"description": "A permission you do not hold, or an owner outside your reach"}})
def create_role(body: RoleCreate, container: ContainerDep, policy: RoleAdmin, ctx: Acting,
                response: Response) -> CommandAccepted:
    policy.require_grantable(set(body.permissions) & ACTION_KEYS)
    owner = body.owner_department_id
    if owner is not None:
        _require_role_reach(container, policy, owner)
    elif not policy.has_firm_wide_reach(*container.access_queries.firm()):
        owner = policy.principal.department_id  # a branch administrator defines branch roles
        _require_role_reach(container, policy, owner)
    # (else: a firm-wide role by a caller just found to have firm-wide reach)
    return _secured(container, response, container.access.create_role(ctx, body.key, body.name, body.permissions,
                                                                       owner))


@router.put("/roles/{key}/permissions", response_model=CommandAccepted, summary="Replace a role's action keys.",
            responses={403: {"description": "Firm-wide roles need firm-wide reach; you must hold every "
                                            "permission the role has and will have"},
                       404: {"description": "No such role"}})
def set_role_permissions(key: RoleKey, body: RolePermissions, container: ContainerDep, policy: RoleAdmin,
                         ctx: Acting, expected: ExpectedVersion, response: Response) -> CommandAccepted:
    role = container.access_queries.role(key)
    if role is None:
        raise NotFoundError(f"role {key!r} does not exist")
    _require_role_reach(container, policy, role["owner_department_id"])
    # Unknown keys are named by the command (422); known ones must be the caller's own, and so
    # must those being taken away (nobody strips a role of powers they do not hold).
    policy.require_grantable((set(body.permissions) & ACTION_KEYS) | set(role["permissions"]))
    return _secured(container, response, container.access.set_role_permissions(ctx, key, body.permissions, expected))


@router.get("/roles", response_model=list[RolePublic], dependencies=[Consistent], summary="Every role.")
def list_roles(container: ContainerDep, _: RoleAdmin) -> list[RolePublic]:
    return [RolePublic(**r) for r in container.access_queries.roles()]


@router.post("/business-lines", status_code=201, response_model=CommandAccepted, summary="Define a business line.")
def create_line(body: LineCreate, container: ContainerDep, _: LineAdmin, ctx: Acting,
                response: Response) -> CommandAccepted:
    return _secured(container, response, container.access.create_business_line(ctx, body.code, body.name))


@router.get("/business-lines", response_model=list[LinePublic], dependencies=[Consistent],
            summary="Business lines (all of them for administrators, else yours).")
def list_lines(container: ContainerDep, policy: CurrentPolicy) -> list[LinePublic]:
    return [LinePublic(**r) for r in container.access_queries.business_lines() if policy.sees_line(r["code"])
            or policy.can("access.business_lines.manage")]


def _require_form_path(container: ContainerDep, policy: Policy, body: FieldRuleCreate) -> None:
    """A rule on form data names a path of a published form: refused when no form has it, so a
    typo never leaves a field visible that the administrator meant to hide."""
    if body.business_type is None:
        raise RuleViolationError("name the business type whose form has this field", field="business_type")
    business_type = container.forms.current_business_type(body.business_type)  # 404 when unknown
    policy.require_line(f"business type {body.business_type!r}", business_type.business_line, "business_type")
    if not business_type.versions:
        raise RuleViolationError(f"business type {body.business_type!r} has no published form", field="business_type")
    forms = business_type.versions[-1]["forms"]
    if not any(schema_has_path(schema, body.field) for schema in forms.values()):
        raise RuleViolationError(f"the published form of {body.business_type!r} has no field {body.field!r}",
                                 field="field")


@router.post("/field-rules", status_code=201, response_model=CommandAccepted,
             summary="Hide, mask or make read-only a field of a resource, for roles or departments.")
def define_rule(body: FieldRuleCreate, container: ContainerDep, policy: RuleAdmin, ctx: Acting,
                response: Response) -> CommandAccepted:
    if body.resource in FORM_DATA_RESOURCES and body.field not in RULE_FIELDS.get(body.resource, ()):
        _require_form_path(container, policy, body)
    result = container.access.define_field_rule(
        ctx, body.resource, body.field, body.effect, body.mask, body.applies_to_roles,
        [str(d) for d in body.applies_to_departments], body.exempt_roles, [str(d) for d in body.exempt_departments])
    return _secured(container, response, result)


@router.get("/field-rules", response_model=list[FieldRulePublic], dependencies=[Consistent],
            summary="Active field rules.")
def list_rules(container: ContainerDep, _: RuleAdmin) -> list[FieldRulePublic]:
    return [FieldRulePublic(**r) for r in container.access_queries.field_rule_rows()]


@router.delete("/field-rules/{rule_id}", response_model=CommandAccepted, summary="Withdraw a field rule.")
def withdraw_rule(rule_id: UUID, container: ContainerDep, _: RuleAdmin, ctx: Acting,
                  response: Response) -> CommandAccepted:
    return _secured(container, response, container.access.withdraw_field_rule(ctx, rule_id))


@router.post("/api-tokens", status_code=201, response_model=ApiTokenIssued,
             summary="Issue a long-lived API token for a system; the token is shown only in this answer.")
def issue_token(body: ApiTokenCreate, container: ContainerDep, policy: TokenAdmin, ctx: Acting) -> ApiTokenIssued:
    if policy.principal.kind == "api_token":
        # A token minted by a token would outlive its parent's revocation: people issue tokens.
        raise PermissionDeniedError("API tokens cannot issue API tokens; an operator must")
    # Nobody hands a system more than they hold themselves.
    unknown = unknown_actions(set(body.permissions))
    if unknown:
        raise RuleViolationError(f"unknown action keys: {', '.join(unknown)}", field="permissions")
    excess = sorted(p for p in body.permissions if not policy.can(p))
    excess += sorted(line for line in body.business_lines if not policy.sees_line(line))
    if excess:
        raise PermissionDeniedError(f"you cannot grant what you do not hold: {', '.join(excess)}",
                                    field="permissions")
    p = policy.principal
    issuer = {"actor": p.actor, "operator_id": str(p.operator_id) if p.operator_id else None,
              "roles": sorted(p.roles), "department_id": str(p.department_id) if p.department_id else None,
              "jurisdiction": None if p.departments is None else list(p.jurisdiction),
              "investor_accounts": sorted(p.investor_accounts)}
    issued = container.access.issue_api_token(ctx, body.name, body.scopes, body.permissions, body.business_lines,
                                              body.expires_at, issuer)
    security_barrier(container, issued.position)
    return ApiTokenIssued(id=issued.id, token=issued.token, position=issued.position)


def _token_in_reach(policy: Policy, row: dict[str, Any], firm_wide: bool) -> bool:
    """A token manager sees and revokes the tokens they issued, and those issued by operators
    of departments in their scope for business lines of theirs; firm-wide reach sees all."""
    if firm_wide:
        return True
    issuer = row["issuer"] or {}
    if issuer.get("actor") == policy.principal.actor:
        return True
    department = issuer.get("department_id")
    lines = policy.principal.business_lines
    return (department is not None and policy.sees(department_id=UUID(department))
            and (lines is None or set(row["business_lines"]) <= lines))


@router.get("/api-tokens", response_model=list[ApiTokenPublic], dependencies=[Consistent],
            summary="API tokens within your reach (never their values).")
def list_tokens(container: ContainerDep, policy: TokenAdmin) -> list[ApiTokenPublic]:
    firm_wide = policy.has_firm_wide_reach(*container.access_queries.firm())
    return [ApiTokenPublic(**r) for r in container.access_queries.api_tokens() if _token_in_reach(policy, r, firm_wide)]


@router.delete("/api-tokens/{token_id}", response_model=CommandAccepted,
               summary="Revoke an API token within your reach: it fails from the next request.",
               responses={404: {"description": "No such token within your reach"}})
def revoke_token(token_id: UUID, container: ContainerDep, policy: TokenAdmin, ctx: Acting,
                 response: Response) -> CommandAccepted:
    row = container.access_queries.api_token(token_id)
    if row is None or not _token_in_reach(policy, row, policy.has_firm_wide_reach(*container.access_queries.firm())):
        raise NotFoundError(f"API token {token_id} does not exist")
    return _secured(container, response, container.access.revoke_api_token(ctx, token_id, "revoked by administrator"))
