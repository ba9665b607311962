"""The calendar context's Application (ADR 0013 shape, ADR 0014): the business calendars."""
from __future__ import annotations

from typing import Any

from application.calendar.calendars import Calendars
from application.calendar.ports import HolidaySource
from application.shared.base import LedgerApplication


class CalendarApplication(Calendars, LedgerApplication):
    name = "calendar"

    def __init__(self, store: Any, *, holidays: HolidaySource):
        super().__init__(store)
        self.holidays = holidays
        self.stored_versions = store.versions
        self._times = {}
