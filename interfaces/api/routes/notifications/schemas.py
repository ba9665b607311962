"""Request and response schemas of the notifications API."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from domain.notifications.kinds import Channel, Kind, Language
from interfaces.api.schemas import Page

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class NotificationPublic(BaseModel):
    """One in-app notification (站内信), written in the recipient's language when it was derived."""
    id: UUID
    kind: Kind
    title: str = Field(examples=["新待办：甲公司签约"])
    body: str = Field(examples=["「甲公司签约」已到「运营录入 OPS entry」，等待您处理。"])
    link: str | None = Field(None, description="Where it leads in the UI", examples=["/flows/instances/<id>"])
    instance_id: UUID | None = None
    task_id: str | None = None
    lead_id: UUID | None = None
    business_line: str | None = None
    department_id: UUID | None = None
    position: int = Field(description="Position of the event it came from (the stream's event id)")
    created_at: datetime = Field(description="When that event happened")
    read_at: datetime | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> NotificationPublic:
        return cls.model_validate(row)


class NotificationPage(Page):
    items: list[NotificationPublic]


class UnreadCount(BaseModel):
    unread: int = Field(examples=[3])


class ReadAll(BaseModel):
    up_to: int | None = Field(None, ge=0, le=2**63 - 1, description=(
        "Mark read what came from events up to this position (the newest notification you saw); "
        "absent: everything in your list now. What arrives later stays unread."))


class QuietHours(BaseModel):
    start: str = Field(pattern=HHMM, examples=["22:00"])
    end: str = Field(pattern=HHMM, examples=["08:00"], description="May be earlier than start (over midnight)")
    timezone: str = Field("Asia/Shanghai", max_length=64, description="IANA time zone the times are in")


ChannelList = Annotated[list[Channel], Field(max_length=5)]


class PreferencesBody(BaseModel):
    language: Language = Field("zh", description="The language your notifications are written in")
    channels: dict[Kind, ChannelList] = Field(default_factory=dict, description=(
        "Per kind, the channels it reaches you on; a kind left out follows the firm's default (in-app, "
        "plus the firm's default channels). Within firm policy: only enabled channels, and some kinds "
        "cannot be muted in-app."), examples=[{"copied": ["in_app", "email"]}])
    quiet_hours: QuietHours | None = Field(None, description="No external message then (in-app never waits)")


class PolicyPublic(BaseModel):
    enabled_channels: list[Channel] = Field(description="External channels the firm has enabled")
    default_channels: list[Channel] = Field(description="External channels a kind goes to unless you choose")
    required_in_app: list[Kind] = Field(description="Kinds nobody may mute in-app")


class PreferencesPublic(PreferencesBody):
    version: int = Field(description="Send back as If-Match (0: you have kept the defaults so far)")
    effective: dict[Kind, list[Channel]] = Field(description="Every kind and the channels it reaches you on now")
    policy: PolicyPublic
