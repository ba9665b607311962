"""Assignment and recycle rules (分配规则, 回收规则), their replay, recycling now."""

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import Field, ValidationError

from application.leads.inputs import ScreenedBody
from domain.leads.allocation import Member, RuleConfig, Window
from domain.leads.rulebook import DaysBasis, RecycleRule
from interfaces.api.deps import ContainerDep
from interfaces.api.routes.leads.common import (
    LINE_404,
    Code,
    RuleAdmin,
    _invalid,
    _leads,
    _line,
    _require_covers,
    _require_unrestricted,
    _uuids,
)
from interfaces.api.routes.leads.schemas import (
    RecycleRun,
    ReplayReport,
    RuleBookPublic,
)
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


class AssignmentRuleBody(ScreenedBody):
    name: str = Field(min_length=1, max_length=100)
    purpose: Literal["intake", "reassign"] = "intake"
    owner_department: UUID
    channels: list[str] = Field(default_factory=list, max_length=200)
    target: Literal["department", "employee"] = "employee"
    strategy: Literal["manual", "round_robin", "weighted"] = "round_robin"
    members: list[Member] = Field(default_factory=list, max_length=500)
    window: Window | None = None
    max_recycle_count: int | None = Field(None, ge=0, le=10_000)
    priority: int = Field(100, ge=0, le=10_000)
    timezone: str = Field("Asia/Shanghai", max_length=64)
    enabled: bool = True


class RecycleRuleBody(ScreenedBody):
    name: str = Field(min_length=1, max_length=100)
    owner_department: UUID
    scope_departments: list[UUID] = Field(min_length=1, max_length=200)
    channels: list[str] = Field(default_factory=list, max_length=200)
    days: int = Field(ge=1, le=3650)
    days_basis: DaysBasis = Field("calendar", description="working: count the working days of the business "
                                  "calendar of the lead's department")
    to_department: UUID
    enabled: bool = True



@router.put("/rules/{business_line}/assignment/{key}", response_model=CommandAccepted, responses=LINE_404,
            summary="Save an assignment rule (分配规则): scope, strategy, members with weights and caps, window.")
def save_rule(business_line: str, key: Code, body: AssignmentRuleBody, request: Request, container: ContainerDep,
              policy: RuleAdmin, response: Response) -> CommandAccepted:
    try:
        rule = RuleConfig.model_validate({**body.model_dump(mode="json"), "key": key})
    except ValidationError as exc:
        raise _invalid(exc) from None
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    named = [rule.owner_department] + ([m.id for m in rule.members] if rule.target == "department" else [])
    old = _leads(container).saved_rule(business_line, key)
    if old is not None:  # replacing a rule: its current departments must be the caller's too
        named += [old["owner_department"]] + ([m["id"] for m in old.get("members", [])]
                                              if old.get("target") == "department" else [])
    _require_covers(policy, _uuids(named))
    return accepted(_leads(container).save_rule(ctx, business_line, rule), response)


@router.put("/rules/{business_line}/recycle/{key}", response_model=CommandAccepted, responses=LINE_404,
            summary="Save a recycle rule (回收规则): N days without opening -> a department pool.")
def save_recycle_rule(business_line: str, key: Code, body: RecycleRuleBody, request: Request,
                      container: ContainerDep, policy: RuleAdmin, response: Response) -> CommandAccepted:
    rule = RecycleRule.model_validate({**body.model_dump(mode="json"), "key": key})
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    named = [rule.owner_department, rule.to_department, *rule.scope_departments]
    old = _leads(container).saved_rule(business_line, key, "recycle")
    if old is not None:
        named += [old["owner_department"], old["to_department"], *old["scope_departments"]]
    _require_covers(policy, _uuids(named))
    return accepted(_leads(container).save_recycle_rule(ctx, business_line, rule), response)


@router.get("/rules/{business_line}", response_model=RuleBookPublic, responses=LINE_404,
            summary="Assignment and recycle rules with their counters (empty for a line without rules yet).")
def get_rules(business_line: str, container: ContainerDep, policy: RuleAdmin) -> dict[str, Any]:
    return _leads(container).rules_of(_line(container, policy, business_line))


@router.get("/rules/{business_line}/verify", response_model=ReplayReport, responses=LINE_404,
            summary="Replay the rule book: recompute every recorded decision.")
def verify_rules(business_line: str, container: ContainerDep, policy: RuleAdmin) -> dict[str, Any]:
    checked, mismatches = _leads(container).verify_assignments(_line(container, policy, business_line))
    return {"checked": checked, "mismatches": mismatches[:20], "ok": not mismatches}


@router.post("/rules/{business_line}/recycle-now", response_model=RecycleRun, responses=LINE_404,
             summary="Run recycling and reassignment now.")
def recycle_now(business_line: str, container: ContainerDep, policy: RuleAdmin) -> RecycleRun:
    _require_unrestricted(policy, "recycling runs every rule of the business line")
    return RecycleRun(**container.lead_recycler.tick([_line(container, policy, business_line)]))

