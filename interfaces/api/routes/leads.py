"""leads (渠道2.0): channels and intake tokens, intake (API, landing pages, CSV/XLSX import),
rules and settings, the lead list and customer detail, activity, account-opening events,
conversion analytics."""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import re
import tempfile
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
import redis
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from application.access.policy import Policy
from application.leads.importer import Importer
from application.leads.inputs import SafeStr, ScreenedBody
from application.leads.service import replay_assignments
from application.shared.spreadsheet import safe_cell
from domain.leads.allocation import Member, RuleConfig, Window
from domain.leads.channel import CHANNEL_TYPES
from domain.leads.lead import DEPOSIT_INTENTS, INTENTS, Lead
from domain.leads.rulebook import RecycleRule, rulebook_id
from domain.leads.segment import SegmentConfig, SegmentFilter, SopConfig, day_bounds
from domain.leads.settings import IntakeConfig, settings_id
from domain.shared.context import CommandContext
from domain.shared.errors import InvalidInputError, NotFoundError, PermissionDeniedError, RuleViolationError
from domain.shared.ids import natural_id
from domain.shared.text import MAX_INT
from infrastructure.leads.account_opening import apply_opening_event
from infrastructure.settings import Settings
from interfaces.api.deps import ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import decode_cursor, encode_cursor
from interfaces.api.problems import ApiProblem
from interfaces.api.schemas import CommandAccepted, Page, accepted
from interfaces.bootstrap import Container

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])
READS = Depends(consistent_with("leads.leads"))
ChannelViewer = Annotated[Policy, Depends(requires("leads.channels.view"))]
ChannelAdmin = Annotated[Policy, Depends(requires("leads.channels.manage"))]
Importing = Annotated[Policy, Depends(requires("leads.intake"))]
RuleAdmin = Annotated[Policy, Depends(requires("leads.rules.manage"))]
Viewer = Annotated[Policy, Depends(requires("leads.view"))]
Assigner = Annotated[Policy, Depends(requires("leads.assign"))]
Worker = Annotated[Policy, Depends(requires("leads.work"))]
OpeningFeed = Annotated[Policy, Depends(requires("leads.opening.ingest"))]
Analyst = Annotated[Policy, Depends(requires("leads.analytics.view"))]
Code = Annotated[str, Field(min_length=2, max_length=48, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
Line = Annotated[str, Field(min_length=1, max_length=32)]
OperatorRef = Annotated[str, Field(pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")]
IMPORT_PATH = re.compile(r"^/api/v1/leads/channels/[^/]+/imports$")
RESOURCE = "leads.lead"
LINE_404 = {404: {"description": "`not_found` (field `business_line`): the business line does not exist or is "
                                 "not yours"}}
# Event positions are bigint: a cursor beyond them is a 422, never a database error.
Position = Annotated[int, Query(ge=1, le=MAX_INT, description="next_before of the previous page")]
# What ClickHouse DateTime (and the analytics) can hold.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2105, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def _in_range(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    if not EARLIEST <= aware <= LATEST:
        raise ValueError("must lie between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z")
    return value


Instant = Annotated[datetime | None, AfterValidator(_in_range), Query(
    description="ISO 8601 date-time between 1970-01-01 and 2105-12-31")]


def _range(since: datetime | None, until: datetime | None) -> None:
    """``since`` after ``until`` selects nothing by mistake: refused, naming ``since``."""
    def aware(at: datetime) -> datetime:
        return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
    if since is not None and until is not None and aware(since) > aware(until):
        raise InvalidInputError("since is after until", [{"path": "since", "message": "since is after until"}])


def large_bodies(settings: Settings) -> tuple[tuple[re.Pattern[str], int], ...]:
    """Import uploads may exceed the general body limit, up to leads_import_max_bytes."""
    return ((IMPORT_PATH, settings.leads_import_max_bytes),)


def _leads(container: Container) -> Any:
    return container.leads


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


# -- channels -----------------------------------------------------------------------------------
class ChannelCreate(ScreenedBody):
    code: Code = Field(examples=["ths-futures-tab"])
    name: str = Field(min_length=1, max_length=100, examples=["[手炒开户]期货交易tab"])
    channel_type: Literal[CHANNEL_TYPES] = Field(examples=["tonghuashun"])  # type: ignore[valid-type]
    promotion_type: str = Field(min_length=1, max_length=60, examples=["同花顺"])
    business_line: Line
    department_id: UUID = Field(description="The department whose pool receives the channel's leads")


class ChannelUpdate(ScreenedBody):
    name: str = Field(min_length=1, max_length=100)
    channel_type: Literal[CHANNEL_TYPES]  # type: ignore[valid-type]
    promotion_type: str = Field(min_length=1, max_length=60)
    department_id: UUID
    enabled: bool = True


class WecomConfig(ScreenedBody):
    enabled: bool = False
    button_name: str = Field("获取专属服务", max_length=30)
    mode: Literal["acquisition_assistant", "customer_service"] = "acquisition_assistant"
    qr_url: str | None = Field(None, max_length=500)


class RedirectConfig(ScreenedBody):
    enabled: bool = False
    button_name: str = Field("下载APP", max_length=30)
    url: str | None = Field(None, max_length=500)
    app_market_url: str | None = Field(None, max_length=500)
    android_url: str | None = Field(None, max_length=500)
    ios_url: str | None = Field(None, max_length=500)


class CallbackConfig(ScreenedBody):
    enabled: bool = False
    url: str | None = Field(None, max_length=500)
    param_name: str | None = Field(None, max_length=60)
    param_description: str | None = Field(None, max_length=200)


class PageField(ScreenedBody):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    label: str = Field(max_length=60)
    required: bool = False


class LandingPage(ScreenedBody):
    title: str = Field(min_length=1, max_length=100)
    design_url: str | None = Field(None, max_length=500, description="The uploaded design image")
    fields: list[PageField] = Field(default_factory=list, max_length=20)
    sms_verification: bool = True
    privacy_consent_required: bool = True
    privacy_text: str = Field("", max_length=5000)
    submit_button: dict[str, str] = Field(default_factory=lambda: {"name": "提交", "color": "#e4393c"})
    wecom: WecomConfig = Field(default_factory=WecomConfig)
    redirect: RedirectConfig = Field(default_factory=RedirectConfig)
    sync_app_phone: bool = False
    status_callback: CallbackConfig = Field(default_factory=CallbackConfig)
    enabled: bool = True


def _channel_line(container: Container, policy: Policy, code: str) -> str:
    line = _leads(container).channel(code).business_line
    policy.require_line(f"channel {code!r}", line, field="channel")
    return line


@router.post("/channels", status_code=201, response_model=CommandAccepted, responses=LINE_404,
             summary="Create a channel (渠道).")
def create_channel(body: ChannelCreate, request: Request, container: ContainerDep, policy: ChannelAdmin,
                   response: Response) -> CommandAccepted:
    _line(container, policy, body.business_line)
    ctx = policy.context(request.state.correlation_id, body.business_line)
    return accepted(_leads(container).create_channel(ctx, body.code, body.name, body.channel_type,
                                                     body.promotion_type, body.business_line,
                                                     str(body.department_id)), response)


@router.put("/channels/{code}", response_model=CommandAccepted, summary="Edit a channel (If-Match).")
def update_channel(code: str, body: ChannelUpdate, request: Request, container: ContainerDep,
                   policy: ChannelAdmin, expected: ExpectedVersion, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _channel_line(container, policy, code))
    return accepted(_leads(container).update_channel(ctx, code, body.name, body.channel_type, body.promotion_type,
                                                     str(body.department_id), body.enabled, expected), response)


@router.get("/channels", dependencies=[READS], response_model=list[ChannelPublic],
            summary="Channels of your business lines.")
def list_channels(container: ContainerDep, policy: ChannelViewer) -> list[dict[str, Any]]:
    return container.lead_queries.channels(policy.scope_params())


@router.post("/channels/{code}/token", response_model=TokenIssued, responses={404: {"description": "unknown channel"}},
             summary="Issue the channel's intake token (shown once; the old one stops).")
def issue_token(code: str, request: Request, container: ContainerDep, policy: ChannelAdmin,
                response: Response) -> dict[str, Any]:
    ctx = policy.context(request.state.correlation_id, _channel_line(container, policy, code))
    result, token = _leads(container).issue_token(ctx, code)
    response.headers["Cache-Control"] = "no-store"
    return {**accepted(result, response).model_dump(mode="json"), "token": token}


@router.put("/channels/{code}/landing-pages/{key}", response_model=CommandAccepted,
            summary="Configure a landing page of the channel (fields, consent, WeCom, redirect, callback).")
def configure_landing_page(code: str, key: Code, body: LandingPage, request: Request, container: ContainerDep,
                           policy: ChannelAdmin, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _channel_line(container, policy, code))
    return accepted(_leads(container).configure_landing_page(ctx, code, key, body.model_dump(mode="json")),
                    response)


# -- intake -------------------------------------------------------------------------------------
class IntakeBatch(BaseModel):  # rows are checked one by one (per-row results)
    leads: list[dict[str, Any]] = Field(min_length=1, max_length=1000, description=(
        "Rows {phone, name?, fields?}; each row is checked on its own and answered in `results`"))
    privacy_consent: bool | None = Field(None, description="Landing pages that require consent refuse without it")


def intake_channel(container: ContainerDep, x_channel_token: Annotated[str | None, Header(
        description="The channel's intake token (POST /channels/{code}/token)")] = None) -> Any:
    """Dependency: the channel behind the token (checked before the body is read) and its rate limit."""
    if not x_channel_token:
        raise ApiProblem(401, "unauthenticated", "missing X-Channel-Token header", field="X-Channel-Token")
    channel = _leads(container).authenticate_token(x_channel_token)
    allowed, retry = container.lead_rate_limiter.take(f"channel:{channel.code}") if (
        container.lead_rate_limiter) else (True, 0)
    if not allowed:
        raise ApiProblem(429, "rate_limited", f"channel {channel.code!r} exceeded "
                         f"{container.settings.leads_intake_rate_per_minute} leads per minute",
                         headers={"Retry-After": str(max(retry, 1))})
    return channel


IntakeChannel = Annotated[Any, Depends(intake_channel)]


@router.post("/intake", summary="Channel intake (接口进线): a batch of leads, one result per row.",
             response_model=IntakeOutcome, response_model_exclude_unset=True,
             responses={401: {"description": "`unknown_channel_token`"}, 429: {"description": "rate limited"},
                        404: {"description": "unknown landing page"}})
def intake(channel: IntakeChannel, body: IntakeBatch, request: Request, container: ContainerDep,
           landing_page: Annotated[str | None, Query(max_length=48, description="Submitted from this landing page")]
           = None) -> dict[str, Any]:
    limiter = container.lead_rate_limiter
    if limiter and len(body.leads) > 1:
        allowed, retry = limiter.take(f"channel:{channel.code}", len(body.leads) - 1)
        if not allowed:
            raise ApiProblem(429, "rate_limited", f"channel {channel.code!r} exceeded its per-minute lead limit",
                             headers={"Retry-After": str(max(retry, 1))})
    source: str = "api"
    after: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None
    if landing_page is not None:
        page = channel.landing_pages.get(landing_page)
        if page is None or not page.get("enabled", True):
            raise NotFoundError(f"landing page {landing_page!r} does not exist", field="landing_page")
        if page.get("privacy_consent_required") and body.privacy_consent is not True:
            raise RuleViolationError("this landing page requires privacy consent", field="privacy_consent")
        required = [f["key"] for f in page.get("fields") or [] if f.get("required")]
        for i, row in enumerate(body.leads):
            values = {**(row.get("fields") or {}), **row} if isinstance(row, dict) and isinstance(
                row.get("fields") or {}, dict) else {}
            missing = [k for k in required if values.get(k) in (None, "")]
            if missing:
                raise RuleViolationError(f"leads[{i}]: the landing page requires {', '.join(missing)}",
                                         field=f"leads[{i}].{missing[0]}")
        source = f"landing_page:{landing_page}"
        extra = {"landing_page": landing_page, "privacy_consent": body.privacy_consent is True}
        after = {"wecom": page.get("wecom") if (page.get("wecom") or {}).get("enabled") else None,
                 "redirect": page.get("redirect") if (page.get("redirect") or {}).get("enabled") else None}
    ctx = CommandContext(f"channel:{channel.code}", request.state.correlation_id, channel.business_line)
    out = _leads(container).intake(ctx, channel.code, body.leads, source, extra)
    return {**out, "after_submit": after} if after is not None else out


def _progress_key(container: Container, import_id: str) -> str:
    return container.redis.key(f"leads:import:{import_id}")


def _publish_progress(container: Container, report: dict[str, Any]) -> None:
    if not container.redis.available:
        return
    with contextlib.suppress(redis.RedisError):  # progress is a courtesy; the import goes on
        container.redis.client.set(_progress_key(container, report["import_id"]), orjson.dumps(report), ex=86_400)


@router.post("/channels/{code}/imports",
             summary="Import leads from a CSV or XLSX file (手动导入): per-row results, progress in Redis.",
             response_model=ImportReport, response_model_exclude_unset=True,
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}},
                                                        "application/octet-stream": {"schema": {
                                                            "type": "string", "format": "binary"}}}}},
             responses={404: {"description": "unknown channel"},
                        413: {"description": "the file exceeds leads_import_max_bytes"},
                        422: {"description": "`invalid_import_file`: no phone column, bad encoding, ..."}})
async def import_leads(code: str, request: Request, container: ContainerDep, policy: Importing,
                       import_id: Annotated[str | None, Query(pattern=r"^[a-f0-9]{8,32}$", description=(
                           "Your id for this import, to poll GET /imports/{id} while it runs"))] = None
                       ) -> dict[str, Any]:
    line = await run_in_threadpool(_channel_line, container, policy, code)
    with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as spool:
        async for chunk in request.stream():  # the middleware stops it beyond the limit (413)
            spool.write(chunk)
        if spool.tell() == 0:
            raise RuleViolationError("the file is empty", field="body")
        spool.seek(0)
        ctx = policy.context(request.state.correlation_id, line)
        owner = {"business_line": line, "started_by": policy.principal.actor}
        return await run_in_threadpool(Importer(_leads(container)).run, ctx, code, spool,
                                       progress=lambda report: _publish_progress(container, {**report, **owner}),
                                       import_id=import_id)


@router.get("/imports/{import_id}", response_model=ImportProgress, response_model_exclude_unset=True,
            responses={404: {"description": "unknown (or older than a day)"}},
            summary="Progress of an import (rows done, counts, status).")
def import_progress(import_id: str, container: ContainerDep, policy: Importing) -> dict[str, Any]:
    raw = None
    if container.redis.available:
        try:
            raw = container.redis.client.get(_progress_key(container, import_id))
        except redis.RedisError:
            raw = None
    report = orjson.loads(raw) if raw is not None else None
    # Only its starter, or someone of its business line with an unrestricted data scope, sees it.
    if report is None or not policy.sees_line(report.get("business_line")) or (
            report.get("started_by") != policy.principal.actor and policy.principal.departments is not None):
        raise NotFoundError(f"import {import_id!r} is unknown (or older than a day)")
    return report


# -- rules and settings -----------------------------------------------------------------------------
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
    to_department: UUID
    enabled: bool = True


class PhoneList(ScreenedBody):
    add: list[str] = Field(default_factory=list, max_length=10_000)
    remove: list[str] = Field(default_factory=list, max_length=10_000)
    reason: str = Field("", max_length=500)


class WordList(ScreenedBody):
    add: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list, max_length=5000)
    remove: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list, max_length=5000)


class BindingImport(BaseModel):  # rows are checked one by one (per-row results)
    source: SafeStr = Field("渠道1.0", min_length=1, max_length=60)
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=5000, description=(
        "{phone, kind: account_manager|ib|branch, holder, department_id?, bound_at?}"))


class SegmentBody(ScreenedBody):
    name: str = Field(min_length=1, max_length=100, examples=["未跟进 | 新线索"])
    filter: SegmentFilter = Field(default_factory=SegmentFilter)


class SopBody(ScreenedBody):
    name: str = Field(min_length=1, max_length=100)
    segments: list[str] = Field(min_length=1, max_length=20)
    action: Literal["sms", "call"]
    template: str | None = Field(None, max_length=60)
    content: str | None = Field(None, max_length=1000)
    mode: Literal["immediate", "fixed_time"] = "immediate"
    at_time: str | None = Field(None, pattern=r"^\d{2}:\d{2}$")
    start: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    end: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    enabled: bool = True


class IntakeSettings(ScreenedBody, IntakeConfig):
    """The intake settings as a request body (screened)."""


def _invalid(exc: ValidationError) -> InvalidInputError:
    """A cross-field rule of the domain model (e.g. a weighted rule without members) as a 422."""
    errors = [{"path": ".".join(str(p) for p in e["loc"]) or "body",
               "message": e["msg"].removeprefix("Value error, ")} for e in exc.errors()]
    return InvalidInputError(errors[0]["message"], errors)


def _require_covers(policy: Policy, departments: list[str] | None) -> None:
    """The caller's data scope covers these departments (None: all of them)."""
    if departments is None:
        _require_unrestricted(policy, "this configuration applies to every department")
    else:
        policy.require_scope_covers([UUID(d) for d in departments])


def _uuids(values: list[Any]) -> list[str]:
    """Department ids as strings (rule fields hold UUIDs or strings); an id that is not a UUID
    (an employee member) is left out."""
    out = []
    for v in values:
        try:
            out.append(str(UUID(str(v))))
        except ValueError:
            continue
    return sorted(set(out))


def _require_unrestricted(policy: Policy, why: str) -> None:
    if policy.principal.departments is not None:
        raise PermissionDeniedError(f"outside your data scope: {why}")


def _line(container: Container, policy: Policy, line: str) -> str:
    """The business line named in the path or query: 404 (field ``business_line``) unless it
    exists and the caller works in it (the same answer for both, so the two cannot be told
    apart). Nothing is ever configured for, or read from, a line that does not exist."""
    policy.require_line(f"business line {line!r}", line, field="business_line")
    if not container.access.exists(natural_id("business_line", line)):
        raise NotFoundError(f"business line {line!r} does not exist", field="business_line")
    return line


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
    line = _line(container, policy, business_line)
    if not _leads(container).exists(rulebook_id(line)):  # a known line nobody configured yet
        return {"rules": [], "recycle_rules": [], "counters": {}, "allocations": 0}
    book = _leads(container).rulebook(line)
    return {"rules": list(book.rules.values()), "recycle_rules": list(book.recycle_rules.values()),
            "counters": {k: v["counts"] for k, v in book.states.items()}, "allocations": book.allocations}


@router.get("/rules/{business_line}/verify", response_model=ReplayReport, responses=LINE_404,
            summary="Replay the rule book: recompute every recorded decision.")
def verify_rules(business_line: str, container: ContainerDep, policy: RuleAdmin) -> dict[str, Any]:
    line = _line(container, policy, business_line)
    checked, mismatches = replay_assignments(_leads(container).events.get(rulebook_id(line)))
    return {"checked": checked, "mismatches": mismatches[:20], "ok": not mismatches}


class RecycleRun(BaseModel):
    recycled: int = Field(description="Leads taken back from their owners")
    reassigned: int = Field(description="Leads given to a new owner")


class SopRun(BaseModel):
    reached: int = Field(description="Leads contacted by this run")
    failed: int = Field(description="Contacts that failed")


@router.post("/rules/{business_line}/recycle-now", response_model=RecycleRun, responses=LINE_404,
             summary="Run recycling and reassignment now.")
def recycle_now(business_line: str, container: ContainerDep, policy: RuleAdmin) -> RecycleRun:
    _require_unrestricted(policy, "recycling runs every rule of the business line")
    return RecycleRun(**container.lead_recycler.tick([_line(container, policy, business_line)]))


@router.put("/settings/{business_line}", response_model=CommandAccepted, responses=LINE_404,
            summary="Intake settings: repeat window, custom CEL filters, attribution mode, sensitive-word mode.")
def configure(business_line: str, body: IntakeSettings, request: Request, container: ContainerDep,
              policy: RuleAdmin, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    return accepted(_leads(container).configure_intake(ctx, business_line, body), response)


@router.get("/settings/{business_line}", response_model=IntakeSettingsPublic, responses=LINE_404,
            summary="Intake settings, blacklist size and sensitive words (the defaults for a line not configured "
                    "yet).")
def get_settings(business_line: str, container: ContainerDep, policy: RuleAdmin) -> dict[str, Any]:
    line = _line(container, policy, business_line)
    if not _leads(container).exists(settings_id(line)):  # a known line nobody configured yet: the defaults
        return {**IntakeConfig().model_dump(), "blacklist_size": 0, "sensitive_words": []}
    s = _leads(container).settings(line)
    return {**s.config, "blacklist_size": len(s.blacklist), "sensitive_words": sorted(s.sensitive_words)}


@router.post("/settings/{business_line}/blacklist", response_model=CommandAccepted, responses=LINE_404,
             summary="Change the blacklist.")
def blacklist(business_line: str, body: PhoneList, request: Request, container: ContainerDep, policy: RuleAdmin,
              response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    return accepted(_leads(container).change_blacklist(ctx, business_line, body.add, body.remove, body.reason),
                    response)


@router.post("/settings/{business_line}/sensitive-words", response_model=CommandAccepted, responses=LINE_404,
             summary="Change the sensitive-word list (敏感词).")
def sensitive_words(business_line: str, body: WordList, request: Request, container: ContainerDep,
                    policy: RuleAdmin, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    return accepted(_leads(container).change_sensitive_words(ctx, business_line, body.add, body.remove), response)


@router.get("/settings/{business_line}/sensitive-hits", dependencies=[READS], response_model=SensitiveHitPage,
            response_model_exclude_unset=True, responses=LINE_404,
            summary="Compliance: every outgoing text that hit a sensitive word (blocked or flagged).")
def sensitive_hits(business_line: str, container: ContainerDep, policy: RuleAdmin, before: Position | None = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    rows = container.lead_queries.sensitive_hits(_line(container, policy, business_line), before=before, limit=limit)
    return {"items": policy.present_all(RESOURCE, rows),
            "next_before": rows[-1]["position"] if len(rows) == limit else None}


@router.post("/bindings", response_model=PerRowOutcome, response_model_exclude_unset=True,
             summary="Import 渠道1.0 bindings (phone -> account manager / IB / branch).")
def import_bindings(body: BindingImport, request: Request, container: ContainerDep,
                    policy: RuleAdmin) -> dict[str, Any]:
    # A binding is firm-wide (one per phone, it filters intake in every business line): only an
    # administrator of every line and department may change them.
    if policy.principal.business_lines is not None or policy.principal.departments is not None:
        raise PermissionDeniedError("importing 渠道1.0 bindings needs a scope over every business line and "
                                    "department (bindings apply firm-wide)")
    results = _leads(container).import_bindings(policy.context(request.state.correlation_id), body.rows,
                                                body.source)
    return {"results": results, "accepted": sum(r["status"] == "accepted" for r in results)}


# -- segments and SOP tasks -----------------------------------------------------------------------------
@router.put("/segments/{business_line}/{key}", response_model=CommandAccepted, responses=LINE_404,
            summary="Save a segment (客群): a named filter over the leads.")
def save_segment(business_line: str, key: Code, body: SegmentBody, request: Request, container: ContainerDep,
                 policy: RuleAdmin, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    config = SegmentConfig(key=key, name=body.name, filter=body.filter)
    return accepted(_leads(container).save_segment(ctx, business_line, config), response)


@router.get("/segments", dependencies=[READS], response_model=list[SegmentPublic],
            summary="Segments with live counts (within your scope).")
def list_segments(container: ContainerDep, policy: Viewer) -> list[dict[str, Any]]:
    today, tomorrow = day_bounds(_leads(container).clock(), container.settings.leads_report_timezone)
    scope = policy.scope_params()
    return [{**s, "count": container.lead_queries.segment_count(scope, s["business_line"], s["filter"], today,
                                                                  tomorrow)}
            for s in container.lead_queries.segments(scope)]


@router.put("/sop-tasks/{business_line}/{key}", response_model=CommandAccepted,
            summary="Save an SOP task: SMS or outbound call to segments, once per phone.",
            responses={**LINE_404, 422: {"description": "`sensitive_content`: the SMS text holds a blocked word"}})
def save_sop(business_line: str, key: Code, body: SopBody, request: Request, container: ContainerDep,
             policy: RuleAdmin, response: Response) -> CommandAccepted:
    try:
        config = SopConfig.model_validate({**body.model_dump(mode="json"), "key": key})
    except ValidationError as exc:
        raise _invalid(exc) from None
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    existing = _leads(container).sop_task(business_line, key)
    if existing is not None:
        _require_covers(policy, existing.data_scope())
    departments = _departments(policy)
    return accepted(_leads(container).save_sop(ctx, business_line, config, departments), response)


@router.get("/sop-tasks", dependencies=[READS], response_model=list[SopTaskPublic],
            summary="SOP tasks with how many leads each reached.")
def list_sop(container: ContainerDep, policy: RuleAdmin) -> list[dict[str, Any]]:
    return container.lead_queries.sop_tasks(policy.scope_params())


@router.post("/sop-tasks/{business_line}/run-now", response_model=SopRun, responses=LINE_404,
             summary="Run the business line's due SOP tasks now.")
def run_sop_now(business_line: str, container: ContainerDep, policy: RuleAdmin) -> SopRun:
    _require_unrestricted(policy, "the run covers every SOP task of the business line")
    return SopRun(**container.lead_sop.tick([_line(container, policy, business_line)]))


# -- leads --------------------------------------------------------------------------------------------


def _filters(status: str | None, flag: str | None, channel: str | None, owner: str | None, lifecycle: str | None,
             intent: str | None, phone: str | None, department: UUID | None, unassigned: bool | None,
             since: datetime | None, until: datetime | None) -> dict[str, Any]:
    if phone is not None:
        phone = _leads_phone(phone)
    return {"status": status, "flag": flag, "channel_code": channel, "owner": owner, "lifecycle": lifecycle,
            "opening_intent": intent, "phone": phone, "department": department, "unassigned": unassigned,
            "since": since, "until": until}


def _leads_phone(raw: str) -> str:
    from domain.leads.phone import normalise_phone

    return normalise_phone(raw)


def _page(container: Container, policy: Policy, filters: dict[str, Any], cursor: str | None, limit: int,
          with_count: bool, sort: str = "newest") -> dict[str, Any]:
    after = decode_cursor(cursor, 2)
    try:
        key = (datetime.fromisoformat(after[0]), UUID(after[1])) if after else None
    except (TypeError, ValueError):
        raise ApiProblem(400, "invalid_cursor", "cursor is malformed; use next_cursor from a previous page",
                         field="cursor") from None
    scope = policy.scope_params()
    rows = container.lead_queries.leads(scope, filters=filters, after=key, limit=limit + 1, sort=sort)
    more = len(rows) > limit
    rows = rows[:limit]
    out: dict[str, Any] = {"items": policy.present_all(RESOURCE, rows),
                           "next_cursor": encode_cursor([rows[-1]["last_intake_at"].isoformat(),
                                                         str(rows[-1]["id"])]) if more else None}
    if with_count:
        out["total"] = container.lead_queries.count(scope, filters)
    return out


ListQuery = Annotated[str | None, Query(max_length=60)]


@router.get("", dependencies=[READS], response_model=LeadPage, response_model_exclude_unset=True,
            responses={400: {"description": "`invalid_cursor`"}},
            summary="The lead list: filters, new/repeat flags, keyset pagination.")
def list_leads(container: ContainerDep, policy: Viewer,
               status: Annotated[Literal["valid", "filtered"] | None, Query()] = None,
               flag: Annotated[Literal["new", "repeat"] | None, Query()] = None,
               channel: ListQuery = None, owner: ListQuery = None,
               lifecycle: Annotated[Literal["prospect", "opened", "closed"] | None, Query()] = None,
               intent: Annotated[Literal["none", "has", "strong"] | None, Query()] = None,
               phone: Annotated[str | None, Query(max_length=32)] = None, department: UUID | None = None,
               unassigned: bool | None = None, since: Instant = None, until: Instant = None,
               cursor: Annotated[str | None, Query(max_length=400)] = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50,
               count: Annotated[bool, Query(description="Also return the total matching")] = False,
               sort: Annotated[Literal["newest", "oldest"], Query(description="By last intake")] = "newest"
               ) -> dict[str, Any]:
    if phone is not None:
        _require_phone_searchable(policy)
    _range(since, until)
    return _page(container, policy, _filters(status, flag, channel, owner, lifecycle, intent, phone, department,
                                             unassigned, since, until), cursor, limit, count, sort)


@router.get("/mine", dependencies=[READS], response_model=LeadPage, response_model_exclude_unset=True,
            responses={400: {"description": "`invalid_cursor`"}},
            summary="My leads (account manager): leads I own, newest first.")
def my_leads(container: ContainerDep, policy: Worker,
             lifecycle: Annotated[Literal["prospect", "opened", "closed"] | None, Query()] = None,
             flag: Annotated[Literal["new", "repeat"] | None, Query()] = None,
             cursor: Annotated[str | None, Query(max_length=400)] = None,
             limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    mine = Policy(dataclasses.replace(policy.principal, departments=None),
                  policy.load_rules)  # ownership, not the data scope, decides here
    return _page(container, mine, _filters(None, flag, None, policy.principal.actor, lifecycle, None, None, None,
                                           None, None, None), cursor, limit, False)


def _visible(container: Container, policy: Policy, lead_id: UUID) -> Lead:
    """For commands and details: the aggregate decides visibility (never a lagging read model)."""
    lead = _leads(container).lead(lead_id)
    if lead.owner == policy.principal.actor and policy.sees_line(lead.business_line):
        return lead
    policy.require_scoped("lead", {"business_line": lead.business_line,
                                   "department_id": UUID(lead.department_id)})
    return lead


CATEGORY = Literal["intake", "follow_up", "transfer", "call", "activity"]


@router.get("/{lead_id}", dependencies=[READS], response_model=LeadDetail, response_model_exclude_unset=True,
            responses={404: {"description": "unknown lead (or outside your scope)"}},
            summary="Customer detail: lead, intakes (留资记录) and timeline.")
def lead_detail(lead_id: UUID, container: ContainerDep, policy: Viewer, response: Response,
                category: Annotated[CATEGORY | None, Query(description="Timeline tab; all when absent")] = None,
                before: Annotated[int | None, Query(ge=1, le=MAX_INT, description=(
                    "timeline_next_before of the previous page"))] = None,
                timeline_limit: Annotated[int, Query(ge=1, le=500)] = 200) -> dict[str, Any]:
    _visible(container, policy, lead_id)
    row = container.lead_queries.lead(lead_id)
    if row is None:
        raise NotFoundError(f"lead {lead_id} does not exist")
    row.pop("position", None)
    response.headers["ETag"] = f'"{row["version"]}"'
    timeline = container.lead_queries.timeline(lead_id, category, limit=timeline_limit, before=before)
    return {"lead": policy.present(RESOURCE, row),
            "intakes": _present_intakes(policy, container.lead_queries.intakes(lead_id)),
            "timeline": timeline,
            "timeline_next_before": timeline[-1]["position"] if len(timeline) == timeline_limit else None}


def _present_intakes(policy: Policy, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """留资记录 under the leads.lead field rules: the phone and the name field of every intake
    are masked or hidden exactly like the lead's own."""
    out = []
    for row in rows:
        fields = dict(row.get("fields") or {})
        shown = policy.present(RESOURCE, {"phone": row.get("phone"), "name": fields.get("name")})
        item = {k: v for k, v in row.items() if k != "phone"}
        if "phone" in shown:
            item["phone"] = shown["phone"]
        if "name" in fields:
            if "name" in shown:
                fields["name"] = shown["name"]
            else:
                del fields["name"]
        item["fields"] = fields
        out.append(item)
    return out


def _require_phone_searchable(policy: Policy) -> None:
    """A phone filter would tell a caller who sees phones masked whether a number is a lead."""
    if any(r.field == "phone" and r.effect in ("masked", "hidden") for r in policy.rules(RESOURCE)):
        raise PermissionDeniedError("you cannot search by phone: phones are masked for you")


class AssignBody(ScreenedBody):
    owner: OperatorRef
    department_id: UUID
    reason: str = Field(min_length=1, max_length=500)


@router.post("/{lead_id}/assign", response_model=CommandAccepted,
             summary="Assign (手动分配) or transfer (转移) a lead to an employee, with a reason.")
def assign(lead_id: UUID, body: AssignBody, request: Request, container: ContainerDep, policy: Assigner,
           expected: ExpectedVersion, response: Response) -> CommandAccepted:
    lead = _visible(container, policy, lead_id)
    policy.require_scope_covers([body.department_id])
    ctx = policy.context(request.state.correlation_id, lead.business_line)
    return accepted(_leads(container).assign(ctx, lead_id, body.owner, str(body.department_id), body.reason,
                                             expected_version=expected), response)


def _worked(container: Container, policy: Policy, lead_id: UUID) -> Lead:
    lead = _visible(container, policy, lead_id)
    if lead.owner != policy.principal.actor and not policy.can("leads.assign"):
        raise PermissionDeniedError("only the lead's owner (or someone who may assign leads) can work on it")
    return lead


class FollowUpBody(ScreenedBody):
    content: str = Field("", max_length=2000)
    connected: bool | None = None
    next_at: datetime | None = None
    opening_intent: Literal[INTENTS] | None = None  # type: ignore[valid-type]
    deposit_intent: Literal[DEPOSIT_INTENTS] | None = None  # type: ignore[valid-type]
    tags: list[Annotated[str, Field(max_length=30)]] = Field(default_factory=list, max_length=20)


class CallBody(ScreenedBody):
    started_at: datetime
    duration_seconds: int = Field(ge=0, le=86_400)
    connected: bool


class WechatBody(ScreenedBody):
    nickname: str | None = Field(None, max_length=100)


class SmsBody(ScreenedBody):
    content: str = Field(min_length=1, max_length=1000)
    template: str | None = Field(None, max_length=60)


@router.post("/{lead_id}/follow-ups", response_model=CommandAccepted, summary="Record a follow-up (跟进).")
def follow_up(lead_id: UUID, body: FollowUpBody, request: Request, container: ContainerDep, policy: Worker,
              response: Response) -> CommandAccepted:
    lead = _worked(container, policy, lead_id)
    ctx = policy.context(request.state.correlation_id, lead.business_line)
    return accepted(_leads(container).follow_up(ctx, lead_id, body.content, body.connected, body.next_at,
                                                body.opening_intent, body.deposit_intent, body.tags), response)


@router.post("/{lead_id}/calls", response_model=CommandAccepted, summary="Record an outbound call (外呼).")
def record_call(lead_id: UUID, body: CallBody, request: Request, container: ContainerDep, policy: Worker,
                response: Response) -> CommandAccepted:
    lead = _worked(container, policy, lead_id)
    ctx = policy.context(request.state.correlation_id, lead.business_line)
    return accepted(_leads(container).record_call(ctx, lead_id, body.started_at, body.duration_seconds,
                                                  body.connected), response)


@router.post("/{lead_id}/wechat", response_model=CommandAccepted, summary="Record that WeChat was added (加微).")
def add_wechat(lead_id: UUID, body: WechatBody, request: Request, container: ContainerDep, policy: Worker,
               response: Response) -> CommandAccepted:
    lead = _worked(container, policy, lead_id)
    ctx = policy.context(request.state.correlation_id, lead.business_line)
    return accepted(_leads(container).add_wechat(ctx, lead_id, body.nickname), response)


@router.post("/{lead_id}/sms", response_model=CommandAccepted,
             summary="Send an SMS: checked for sensitive words (blocked or flagged, always recorded).",
             responses={422: {"description": "`sensitive_content`: blocked; the hit is recorded"}})
def send_sms(lead_id: UUID, body: SmsBody, request: Request, container: ContainerDep, policy: Worker,
             response: Response) -> CommandAccepted:
    lead = _worked(container, policy, lead_id)
    ctx = policy.context(request.state.correlation_id, lead.business_line)
    return accepted(_leads(container).send_sms(ctx, lead_id, body.content, body.template), response)


# -- account opening ------------------------------------------------------------------------------------
class OpeningEvents(BaseModel):  # rows are checked one by one (per-row results)
    events: list[dict[str, Any]] = Field(min_length=1, max_length=1000, description=(
        "{business_line, phone, kind: entered|node|interrupted|opened|closed, at, node?, external_id?}"))


@router.post("/account-opening/events", response_model=PerRowOutcome, response_model_exclude_unset=True,
             summary="Webhook of the account-opening system: one result per event.")
def opening_events(body: OpeningEvents, request: Request, container: ContainerDep,
                   policy: OpeningFeed) -> dict[str, Any]:
    results = []
    for i, raw in enumerate(body.events):
        line = raw.get("business_line") if isinstance(raw, dict) else None
        if isinstance(line, str) and not policy.sees_line(line):
            results.append({"index": i, "status": "rejected", "reason": f"business line {line!r} does not exist"})
            continue
        ctx = policy.context(request.state.correlation_id, line if isinstance(line, str) else None)
        results.append({"index": i, **apply_opening_event(_leads(container), ctx, raw)})
    return {"results": results, "accepted": sum(r["status"] == "accepted" for r in results)}


# -- analytics ---------------------------------------------------------------------------------------------
Granularity = Literal["day", "week", "month"]
COLUMNS = ("valid", "wechat", "wechat_rate", "connected", "connected_rate", "intent", "intent_rate", "opened_net",
           "opened_net_rate", "opened", "opened_rate")


def _departments(policy: Policy) -> list[str] | None:
    """The caller's data scope: figures count only facts of leads then in these departments."""
    departments = policy.principal.departments
    return None if departments is None else sorted(str(d) for d in departments)


def _csv(rows: list[dict[str, Any]], keys: tuple[str, ...], filename: str) -> StreamingResponse:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow((*keys, *COLUMNS))
    for r in rows:
        writer.writerow([safe_cell(r.get(k, "")) for k in (*keys, *COLUMNS)])
    return StreamingResponse(iter([buf.getvalue().encode("utf-8-sig")]), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/analytics/channels", response_model=ChannelFunnels, response_model_exclude_unset=True,
            responses={200: CSV_200, **LINE_404},
            summary="应用市场推广效果分析: funnel per channel (and per period).")
def channel_analytics(container: ContainerDep, policy: Analyst, business_line: Annotated[str, Query(max_length=32)],
                      granularity: Granularity | None = None, since: Instant = None,
                      until: Instant = None, channel: Annotated[str | None, Query(max_length=48)] = None,
                      format: Annotated[Literal["json", "csv"], Query()] = "json") -> Any:  # noqa: A002
    _range(since, until)
    data = container.lead_analytics.by_channel(_line(container, policy, business_line), granularity=granularity,
                                               since=since, until=until, channel=channel,
                                               departments=_departments(policy))
    if format == "csv":
        keys = (("period",) if granularity else ()) + ("channel_code",)
        return _csv([*data["rows"], {"channel_code": "合计", **data["total"]}], keys, "channels.csv")
    return data


@router.get("/analytics/employees", response_model=EmployeeFunnels, response_model_exclude_unset=True,
            responses={200: CSV_200, **LINE_404},
            summary="人员管理: funnel per employee × channel (and per period).")
def employee_analytics(container: ContainerDep, policy: Analyst,
                       business_line: Annotated[str, Query(max_length=32)], granularity: Granularity | None = None,
                       since: Instant = None, until: Instant = None,
                       channel: Annotated[str | None, Query(max_length=48)] = None,
                       employee: Annotated[str | None, Query(max_length=60)] = None,
                       format: Annotated[Literal["json", "csv"], Query()] = "json") -> Any:  # noqa: A002
    _range(since, until)
    data = container.lead_analytics.by_employee(_line(container, policy, business_line), granularity=granularity,
                                                since=since, until=until, channel=channel, employee=employee,
                                                departments=_departments(policy))
    if format == "csv":
        keys = (("period",) if granularity else ()) + ("employee", "channel_code")
        rows = [*data["rows"], *({**r, "channel_code": "全部"} for r in data["all_channels"])]
        return _csv(rows, keys, "employees.csv")
    return data
