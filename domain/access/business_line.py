"""Business line: brokerage, asset management, fund distribution, ... Records of one line are
invisible to operators without it."""
from __future__ import annotations

import re

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id

LINE_CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
STANDARD_LINES = (
    ("brokerage", "经纪 Brokerage"),
    ("asset_management", "资管 Asset management"),
    ("fund_distribution", "基金代销 Fund distribution"),
    ("investment_advisory", "投资咨询 Investment advisory"),
    ("ib", "居间/IB Introducing broker"),
)


class BusinessLine(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        code: str
        name: str

    @event(Created)
    def __init__(self, code: str, name: str):
        self.code = code
        self.name = name
        self.active = True

    @classmethod
    def create(cls, code: str, name: str) -> BusinessLine:
        if not LINE_CODE.fullmatch(code):
            raise RuleViolationError("business line code must be 2-32 of a-z, 0-9, '_'", field="code")
        return cls._create(cls.Created, id=natural_id("business_line", code), code=code, name=name.strip())

    class Renamed(LedgerAggregate.Event):
        name: str

    @event(Renamed)
    def rename(self, name: str) -> None:
        self.name = name
