"""Response models of the leads API (rows pass through the caller's field rules: a hidden field is
absent, a masked one masked; hence the optional fields)."""

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from domain.leads.allocation import RuleConfig
from domain.leads.rulebook import RecycleRule
from domain.leads.segment import SegmentFilter, SopConfig
from domain.leads.settings import IntakeConfig
from interfaces.api.schemas import CommandAccepted, Page


# -- response models ------------------------------------------------------------------------------
# Rows pass through the caller's field rules: a hidden field is absent (routes answer with
# response_model_exclude_unset), a masked one masked; hence the optional fields.
class ChannelPublic(BaseModel):
    code: str
    name: str
    channel_type: str
    promotion_type: str
    business_line: str
    department_id: UUID
    enabled: bool
    token_issued_at: datetime | None = None
    landing_pages: dict[str, dict[str, Any]] = Field(description="Landing-page configurations by key")
    version: int


class TokenIssued(CommandAccepted):
    token: str = Field(description="The intake token: shown once")


class RuleError(BaseModel):
    rule: str
    error: str = Field(description="Why the filter rule could not be judged for the row (it did not hold)")


class IntakeRowResult(BaseModel):
    row: int
    status: Literal["valid", "filtered", "rejected"]
    reason: str | None = None
    flag: Literal["new", "repeat"] | None = None
    phone: str | None = None
    lead_id: UUID | None = None
    owner: str | None = None
    department_id: str | None = None
    rule_errors: list[RuleError] | None = Field(None, description="Filter rules that failed for this row")


class IntakeCounts(BaseModel):
    valid: int
    filtered: int
    rejected: int


class AfterSubmit(BaseModel):
    wecom: dict[str, Any] | None = None
    redirect: dict[str, Any] | None = None


class IntakeOutcome(BaseModel):
    position: int
    counts: IntakeCounts
    results: list[IntakeRowResult]
    after_submit: AfterSubmit | None = Field(None, description="Landing-page submissions only")


class ImportReport(BaseModel):
    import_id: str | None = None
    rows: int
    counts: IntakeCounts
    status: Literal["running", "done", "partial"]
    error: str | None = None
    results: list[IntakeRowResult] = Field(default_factory=list)


class ImportProgress(BaseModel):
    import_id: str | None = None
    rows: int
    counts: IntakeCounts
    status: Literal["running", "done", "partial"]
    error: str | None = None
    business_line: str
    started_by: str


class RuleBookPublic(BaseModel):
    rules: list[RuleConfig]
    recycle_rules: list[RecycleRule]
    counters: dict[str, dict[str, int]] = Field(description="Leads each member received, per rule")
    allocations: int


class ReplayReport(BaseModel):
    checked: int
    mismatches: list[dict[str, Any]] = Field(description="The first 20 decisions that replay differently")
    ok: bool


class IntakeSettingsPublic(IntakeConfig):
    blacklist_size: int
    sensitive_words: list[str]


class SensitiveHit(BaseModel):
    position: int
    lead_id: UUID
    phone: str | None = None
    kind: str
    at: datetime
    actor: str
    content: str | None = None
    hits: list[str] | None = None


class BlacklistedPhone(BaseModel):
    phone: str | None = Field(None, description="E.164; absent when a field rule hides phones from you")


class BlacklistPage(Page):
    items: list[BlacklistedPhone]


class SensitiveHitPage(BaseModel):
    items: list[SensitiveHit]
    next_before: int | None = None


class PerRowResult(BaseModel):
    row: int | None = None
    index: int | None = None
    status: Literal["accepted", "rejected"]
    reason: str | None = None
    phone: str | None = None
    lead_id: UUID | None = None
    position: int | None = None


class PerRowOutcome(BaseModel):
    results: list[PerRowResult]
    accepted: int


class SegmentPublic(BaseModel):
    business_line: str
    key: str
    name: str
    filter: SegmentFilter
    count: int


class SopTaskPublic(BaseModel):
    business_line: str
    key: str
    config: SopConfig
    reached: int
    last_run_on: date | None = None


class LeadPublic(BaseModel):
    id: UUID
    business_line: str | None = None
    phone: str | None = None
    name: str | None = None
    status: str | None = None
    reason: str | None = None
    flag: str | None = None
    channel_code: str | None = None
    department_id: UUID | None = None
    owner: str | None = None
    assigned_at: datetime | None = None
    recycle_count: int | None = None
    lifecycle: str | None = None
    intakes: int | None = None
    first_intake_at: datetime | None = None
    last_intake_at: datetime | None = None
    calls: int | None = None
    connected_calls: int | None = None
    follow_ups: int | None = None
    connected_follow_ups: int | None = None
    last_follow_up_at: datetime | None = None
    next_follow_up_at: datetime | None = None
    wechat_added: bool | None = None
    opening_intent: str | None = None
    deposit_intent: str | None = None
    opening_kind: str | None = None
    opening_node: str | None = None
    opening_at: datetime | None = None
    opened_at: datetime | None = None
    attribution: dict[str, Any] | None = None
    version: int | None = None


class LeadPage(Page):
    items: list[LeadPublic]
    total: int | None = Field(None, description="With count=true")


class IntakePublic(BaseModel):
    seq: int
    phone: str | None = None
    source: str
    status: str
    reason: str | None = None
    flag: str
    channel_code: str
    channel_name: str
    channel_type: str
    promotion_type: str
    at: datetime
    fields: dict[str, Any] = Field(description="The row's free-form fields (name hidden or masked like the lead's)")


class TimelineEntry(BaseModel):
    position: int
    kind: str
    category: str
    at: datetime
    actor: str
    detail: dict[str, Any] = Field(description="What happened; its keys depend on the kind")


class LeadDetail(BaseModel):
    lead: LeadPublic
    intakes: list[IntakePublic]
    timeline: list[TimelineEntry]
    timeline_next_before: int | None = None


class Funnel(BaseModel):
    period: str | None = Field(None, description="With a granularity: the period's first day")
    channel_code: str | None = None
    employee: str | None = None
    valid: int
    wechat: int
    wechat_rate: float | None = None
    connected: int
    connected_rate: float | None = None
    intent: int
    intent_rate: float | None = None
    opened_net: int
    opened_net_rate: float | None = None
    opened: int
    opened_rate: float | None = None


class ChannelFunnels(BaseModel):
    rows: list[Funnel]
    total: Funnel


class EmployeeFunnels(BaseModel):
    rows: list[Funnel]
    all_channels: list[Funnel]


CSV_200 = {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "JSON, or CSV with format=csv"}



class RecycleRun(BaseModel):
    recycled: int = Field(description="Leads taken back from their owners")
    reassigned: int = Field(description="Leads given to a new owner")


class SopRun(BaseModel):
    reached: int = Field(description="Leads contacted by this run")
    failed: int = Field(description="Contacts that failed")

