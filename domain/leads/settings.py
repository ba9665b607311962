"""Intake settings of a business line: the repeat window, custom filter rules (CEL), the
blacklist, the attribution mode and the sensitive words."""
from __future__ import annotations

import unicodedata
from typing import Any, Literal

from eventsourcing.domain import event
from pydantic import BaseModel, Field

from domain.shared.aggregate import LedgerAggregate
from domain.shared.ids import natural_id

AttributionMode = Literal["time", "branch", "referral"]


def settings_id(business_line: str) -> Any:
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
    @event("Created")
    def __init__(self, business_line: str):
        self.business_line = business_line
        self.config: dict[str, Any] = IntakeConfig().model_dump()
        self.blacklist: set[str] = set()
        self.sensitive_words: set[str] = set()

    @classmethod
    def create(cls, business_line: str) -> LeadSettings:
        return cls._create(cls.Created, id=settings_id(business_line), business_line=business_line)

    @event("Configured")
    def configure(self, config: dict[str, Any]) -> None:
        self.config = config

    @event("BlacklistChanged")
    def change_blacklist(self, added: list[str], removed: list[str], reason: str) -> None:
        self.blacklist |= set(added)
        self.blacklist -= set(removed)

    @event("SensitiveWordsChanged")
    def change_sensitive_words(self, added: list[str], removed: list[str]) -> None:
        self.sensitive_words |= set(added)
        self.sensitive_words -= set(removed)

    def intake(self) -> IntakeConfig:
        return IntakeConfig.model_validate(self.config)

    def hits(self, text: str) -> list[str]:
        """The sensitive words in ``text``, both normalised the same way (see ``fold``), so
        spaces, zero-width characters, punctuation, case, full-width forms and common
        traditional characters do not hide a word."""
        folded = fold(text)
        return sorted(w for w in self.sensitive_words if (f := fold(w)) and f in folded)


# Traditional -> simplified for characters common in financial promotion (a small table: the
# check is a compliance net, not a converter).
_TRADITIONAL = str.maketrans(
    "穩賺證謹險資勝額準確獲嚴漲專貴財會員費幣領導單號碼電話聯係繫買賣價錢銀戶開賬帳貸擔保虧損隻盤"
    "紅權債務補貼優惠獎勵禮贈劵券實現際內幕消息報漲跌機構莊壟斷鏈們個為這與無從來對發",
    "稳赚证谨险资胜额准确获严涨专贵财会员费币领导单号码电话联系系买卖价钱银户开账帐贷担保亏损只盘"
    "红权债务补贴优惠奖励礼赠券券实现际内幕消息报涨跌机构庄垄断链们个为这与无从来对发")


def fold(text: str) -> str:
    """NFKC (full-width -> ASCII), casefold, traditional -> simplified, and only letters and
    digits kept (whitespace, zero-width and format characters, punctuation, symbols dropped)."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_TRADITIONAL)
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")
