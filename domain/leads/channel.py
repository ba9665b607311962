"""Channels (渠道): where leads come from, each with its own intake token and landing pages."""
from __future__ import annotations

import re
from typing import Any, Literal, get_args
from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id
from domain.shared.text import require_text

ChannelType = Literal["tonghuashun", "douyin", "baidu", "360", "dazhihui", "app_store_xiaomi", "app_store_huawei",
                      "app_store_vivo", "app_store_oppo", "app_store_honor", "app_store_apple", "referral",
                      "manual_import", "landing_page", "other"]
CHANNEL_TYPES: tuple[str, ...] = get_args(ChannelType)


CHANNEL_CODE = re.compile(r"[a-z0-9][a-z0-9_\-]{1,47}")


def channel_id(code: str) -> UUID:
    return natural_id("lead_channel", code)


class Channel(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        code: str
        name: str
        channel_type: str
        promotion_type: str
        business_line: str
        department_id: str

    @event(Created)
    def __init__(self, code: str, name: str, channel_type: str, promotion_type: str, business_line: str,
                 department_id: str):
        self.code, self.name, self.channel_type, self.promotion_type = code, name, channel_type, promotion_type
        self.business_line: str = business_line
        self.department_id = department_id     # the pool its leads reach (网金部 or 总部)
        self.token_hash: str | None = None
        self.landing_pages: dict[str, dict[str, Any]] = {}
        self.enabled = True

    @classmethod
    def create(cls, code: str, name: str, channel_type: str, promotion_type: str, business_line: str,
               department_id: str) -> Channel:
        if not CHANNEL_CODE.fullmatch(code):
            raise RuleViolationError("a channel code is 2-48 of a-z, 0-9, '_', '-', starting with a letter or digit",
                                     field="code")
        require_text(name, "name")
        return cls._create(cls.Created, id=channel_id(code), code=code, name=name, channel_type=channel_type,
                           promotion_type=promotion_type, business_line=business_line, department_id=department_id)

    class Updated(LedgerAggregate.Event):
        name: str
        channel_type: str
        promotion_type: str
        department_id: str
        enabled: bool

    @event(Updated)
    def update(self, name: str, channel_type: str, promotion_type: str, department_id: str, enabled: bool) -> None:
        self.name, self.channel_type, self.promotion_type = name, channel_type, promotion_type
        self.department_id, self.enabled = department_id, enabled

    class TokenIssued(LedgerAggregate.Event):
        token_hash: str

    @event(TokenIssued)
    def issue_token(self, token_hash: str) -> None:
        """Only the hash is recorded; the token itself is shown once."""
        self.token_hash = token_hash

    class LandingPageConfigured(LedgerAggregate.Event):
        key: str
        config: dict[str, Any]

    @event(LandingPageConfigured)
    def configure_landing_page(self, key: str, config: dict[str, Any]) -> None:
        self.landing_pages[key] = config

    def facts(self) -> dict[str, str]:
        return {"channel_code": self.code, "channel_name": self.name, "channel_type": self.channel_type,
                "promotion_type": self.promotion_type}
