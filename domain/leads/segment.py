"""Segments (客群) and SOP tasks (自动化任务).

A segment is a saved filter over the lead list; its count is always live (computed when asked,
within the asker's scope). An SOP task sends an SMS template or places an outbound call through
an adapter to every lead of a segment, once per phone, immediately or at a fixed time of day,
between a start and an end date. Which leads a task reached is recorded on the task, so a
restart or a second runner never contacts a phone twice."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.domain import event
from pydantic import BaseModel, Field, model_validator

from domain.leads.lead import Intent, Lifecycle, OpeningKind
from domain.shared.aggregate import LedgerAggregate
from domain.shared.ids import natural_id

Key = Field(min_length=1, max_length=48, pattern=r"^[a-z0-9][a-z0-9_\-]*$")


class SegmentFilter(BaseModel):
    """Every condition is optional; all given ones must hold."""

    status: Literal["valid", "filtered"] | None = "valid"
    flag: Literal["new", "repeat"] | None = None
    channels: list[str] | None = Field(None, max_length=200)
    owner: str | None = Field(None, max_length=60)
    lifecycles: list[Lifecycle] | None = None
    opening_intents: list[Intent] | None = None
    followed_up: bool | None = Field(None, description="false: 未跟进")
    ever_connected: bool | None = Field(None, description="false: 从未接通过")
    reassigned: bool | None = Field(None, description="true: 重新分配客户 (recycled at least once)")
    in_opening: bool | None = Field(None, description="false: 未进开户云")
    opening_kinds: list[OpeningKind] | None = None
    intake: Literal["today", "before_today"] | None = Field(None, description="今日 / 往日 (last intake)")
    follow_up_due_today: bool | None = Field(None, description="true: 预约今日跟进")


class SegmentConfig(BaseModel):
    key: str = Key
    name: str = Field(min_length=1, max_length=100)
    filter: SegmentFilter = Field(default_factory=SegmentFilter)


class SopConfig(BaseModel):
    key: str = Key
    name: str = Field(min_length=1, max_length=100)
    segments: list[str] = Field(min_length=1, max_length=20, description="包含客群 (segment keys)")
    action: Literal["sms", "call"]
    template: str | None = Field(None, max_length=60, description="SMS template id at the SMS platform")
    content: str | None = Field(None, max_length=1000, description="SMS text (checked for sensitive words)")
    mode: Literal["immediate", "fixed_time"] = "immediate"
    at_time: time | None = Field(None, description="固定时间执行: the time of day (report time zone)")
    start: date | None = Field(None, description="None: effective once enabled")
    end: date | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _check(self) -> SopConfig:
        if self.action == "sms" and not self.content:
            raise ValueError("an SMS task needs its content")
        if self.mode == "fixed_time" and self.at_time is None:
            raise ValueError("a fixed-time task needs at_time")
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        return self


def segment_id(business_line: str, key: str) -> UUID:
    return natural_id("lead_segment", f"{business_line}:{key}")


def sop_id(business_line: str, key: str) -> UUID:
    return natural_id("lead_sop", f"{business_line}:{key}")


class Segment(LedgerAggregate):
    class Saved(LedgerAggregate.Created):
        business_line: str
        key: str
        name: str
        filter: dict[str, Any]

    @event(Saved)
    def __init__(self, business_line: str, key: str, name: str, filter: dict[str, Any]):
        self.business_line: str = business_line
        self.key, self.name, self.filter = key, name, filter

    @classmethod
    def create(cls, business_line: str, config: SegmentConfig) -> Segment:
        return cls._create(cls.Saved, id=segment_id(business_line, config.key), business_line=business_line,
                           key=config.key, name=config.name, filter=config.filter.model_dump(mode="json"))

    class Changed(LedgerAggregate.Event):
        name: str
        filter: dict[str, Any]

    @event(Changed)
    def change(self, name: str, filter: dict[str, Any]) -> None:
        self.name, self.filter = name, filter


class SopTask(LedgerAggregate):
    class Saved(LedgerAggregate.Created):
        business_line: str
        config: dict[str, Any]

    @event(Saved)
    def __init__(self, business_line: str, config: dict[str, Any]):
        self.business_line: str = business_line
        self.config = config
        self.reached: set[str] = set()
        self.last_run_on: str | None = None

    @classmethod
    def create(cls, business_line: str, config: SopConfig) -> SopTask:
        return cls._create(cls.Saved, id=sop_id(business_line, config.key), business_line=business_line,
                           config=config.model_dump(mode="json"))

    class Changed(LedgerAggregate.Event):
        config: dict[str, Any]

    @event(Changed)
    def change(self, config: dict[str, Any]) -> None:
        self.config = config

    class Ran(LedgerAggregate.Event):
        on: str
        at: str
        contacts: list[dict[str, Any]]

    @event(Ran)
    def ran(self, on: str, at: str, contacts: list[dict[str, Any]]) -> None:
        """One run: every lead contacted (lead, phone, adapter reference or error)."""
        self.last_run_on = on
        self.reached |= {c["lead"] for c in contacts if c.get("reference")}

    class Scoped(LedgerAggregate.Event):
        departments: list[str] | None

    @event(Scoped)
    def scope(self, departments: list[str] | None) -> None:
        """The data scope of whoever saved the task: a run reaches only leads of these
        departments (None: every department of the business line)."""
        self.departments = departments

    class Blocked(LedgerAggregate.Event):
        at: str
        content: str | None
        sensitive_hits: list[str]

    @event(Blocked)
    def blocked(self, at: str, content: str | None, sensitive_hits: list[str]) -> None:
        """A run refused: the text holds sensitive words (block mode), checked at send time."""
        self.blocked_content = content

    def settings(self) -> SopConfig:
        return SopConfig.model_validate(self.config)

    def data_scope(self) -> list[str] | None:
        return getattr(self, "departments", None)


def sop_claim_id(business_line: str, key: str, lead: str) -> UUID:
    return natural_id("lead_sop_claim", f"{business_line}:{key}:{lead}")


class SopClaim(LedgerAggregate):
    """Claim-then-send: one per (task, lead), created before the gateway is called. The store's
    unique (id, version) decides which runner contacts the lead; a failed send releases the
    claim for the next run; a claim left by a crash between claim and send stays (at most once)."""

    class Claimed(LedgerAggregate.Created):
        business_line: str
        task: str
        lead: str
        at: str

    @event(Claimed)
    def __init__(self, business_line: str, task: str, lead: str, at: str):
        self.business_line: str = business_line
        self.task, self.lead = task, lead
        self.state, self.attempts = "claimed", 1
        self.reference: str | None = None

    @classmethod
    def create(cls, business_line: str, task: str, lead: str, at: str) -> SopClaim:
        return cls._create(cls.Claimed, id=sop_claim_id(business_line, task, lead), business_line=business_line,
                           task=task, lead=lead, at=at)

    class Sent(LedgerAggregate.Event):
        reference: str
        at: str

    @event(Sent)
    def sent(self, reference: str, at: str) -> None:
        self.state, self.reference = "sent", reference

    class Failed(LedgerAggregate.Event):
        error: str
        at: str

    @event(Failed)
    def failed(self, error: str, at: str) -> None:
        self.state = "failed"

    class Reclaimed(LedgerAggregate.Event):
        at: str

    @event(Reclaimed)
    def reclaim(self, at: str) -> None:
        self.state = "claimed"
        self.attempts += 1


def day_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The start of today and of tomorrow in the reporting time zone (for 今日 / 往日)."""
    local = now.astimezone(ZoneInfo(timezone))
    start = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)
    return start, start + timedelta(days=1)
