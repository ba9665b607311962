"""What the calendar context needs from outside: a source of public holidays."""
from __future__ import annotations

from typing import Protocol

from domain.calendar.calendar import YearDays


class HolidaySource(Protocol):
    def year(self, year: int) -> YearDays | None:
        """The year's days, or None when the source does not know that year yet."""
