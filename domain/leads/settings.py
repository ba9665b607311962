"""Intake settings of a business line: the repeat window, custom filter rules (CEL), the
blacklist, the attribution mode and the sensitive words."""
from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import event
from pydantic import BaseModel, Field

from domain.leads.sensitive import hits
from domain.shared.aggregate import LedgerAggregate
from domain.shared.ids import natural_id

AttributionMode = Literal["time", "branch", "referral"]


def settings_id(business_line: str) -> UUID:
    return natural_id("lead_settings", business_line)


class FilterRule(BaseModel):
    name: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    expression: str = Field(min_length=1, max_length=2000, description="CEL over phone, channel_code, "
                            "channel_type, promotion_type, source, fields; true = filter the lead out")


class IntakeConfig(BaseModel):
    repeat_window_days: int = Field(3, ge=0, le=3650, description="重复进线: a valid intake of the same phone "
                                    "within this many days filters the new one out (0 = never)")
    filter_rules: list[FilterRule] = Field(default_factory=list, max_length=50)
    attribution_mode: AttributionMode = Field("time", description="业绩归属: time | branch | referral")
    sensitive_mode: Literal["block", "flag"] = Field("block", description="敏感词: refuse or only record")


class LeadSettings(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        business_line: str

    @event(Created)
    def __init__(self, business_line: str):
        self.business_line: str = business_line
        self.config: dict[str, Any] = IntakeConfig().model_dump()
        self.blacklist: set[str] = set()
        self.sensitive_words: set[str] = set()

    @classmethod
    def create(cls, business_line: str) -> LeadSettings:
        return cls._create(cls.Created, id=settings_id(business_line), business_line=business_line)

    class Configured(LedgerAggregate.Event):
        config: dict[str, Any]

    @event(Configured)
    def configure(self, config: dict[str, Any]) -> None:
        self.config = config

    class BlacklistChanged(LedgerAggregate.Event):
        added: list[str]
        removed: list[str]
        reason: str

    @event(BlacklistChanged)
    def change_blacklist(self, added: list[str], removed: list[str], reason: str) -> None:
        self.blacklist |= set(added)
        self.blacklist -= set(removed)

    class SensitiveWordsChanged(LedgerAggregate.Event):
        added: list[str]
        removed: list[str]

    @event(SensitiveWordsChanged)
    def change_sensitive_words(self, added: list[str], removed: list[str]) -> None:
        self.sensitive_words |= set(added)
        self.sensitive_words -= set(removed)

    def intake(self) -> IntakeConfig:
        return IntakeConfig.model_validate(self.config)

    def hits(self, text: str) -> list[str]:
        """The sensitive words in ``text`` (see ``domain.leads.sensitive.hits``)."""
        return hits(self.sensitive_words, text)
