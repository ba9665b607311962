"""Calendars: the firm's business calendar and departments' own, and the working time they give."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from application.calendar.ports import HolidaySource
from application.shared.base import CommandResult, Loader, command
from domain.calendar.calendar import BusinessCalendar, calendar_id
from domain.calendar.working_time import WorkingTime
from domain.shared.errors import NotFoundError, RuleViolationError

DEFAULT_HOURS = [["09:00", "12:00"], ["13:00", "17:30"]]
DEFAULT_WEEKEND = [5, 6]


class YearUnknownError(RuleViolationError):
    code = "year_unknown"


class Calendars:
    # From the host (LedgerApplication) and the composition root:
    load: Loader
    save_one: Callable[[Any], CommandResult]
    create_unique: Callable[[Any, str], CommandResult]
    holidays: HolidaySource
    stored_versions: Callable[[list[UUID]], dict[UUID, int]]
    _times: dict[UUID | None, tuple[tuple[int | None, int | None], WorkingTime]]

    def calendar(self, department_id: UUID | None = None) -> BusinessCalendar:
        what = "the firm calendar" if department_id is None else f"the calendar of department {department_id}"
        try:
            return self.load(calendar_id(department_id), BusinessCalendar)
        except NotFoundError:
            raise NotFoundError(f"{what} does not exist", field="department_id") from None

    @command
    def open_calendar(self, department_id: UUID | None, name: str, timezone: str = "Asia/Shanghai",
                      weekend: list[int] | None = None, hours: list[list[str]] | None = None) -> CommandResult:
        if department_id is not None:
            self.calendar(None)  # a department's calendar takes its years from the firm's
        calendar = BusinessCalendar.open(department_id, name, timezone,
                                         DEFAULT_WEEKEND if weekend is None else weekend,
                                         DEFAULT_HOURS if hours is None else hours)
        return self.create_unique(calendar, "the firm calendar" if department_id is None
                                  else f"the calendar of department {department_id}")

    @command
    def set_hours(self, department_id: UUID | None, weekend: list[int], hours: list[list[str]],
                  expected_version: int | None = None) -> CommandResult:
        calendar = self.load(calendar_id(department_id), BusinessCalendar, expected_version=expected_version,
                             what="that calendar")
        calendar.set_hours(weekend, hours)
        return self.save_one(calendar)

    @command
    def seed_year(self, year: int) -> CommandResult:
        """The year's holidays and make-up days from the holiday source (chinese-calendar)."""
        days = self.holidays.year(year)
        if days is None:
            raise YearUnknownError(f"the holiday source does not know {year} yet: enter its holidays and make-up "
                                   "working days (PUT /api/v1/calendar/years/{year})", field="year")
        calendar = self.calendar(None)
        calendar.set_year(year, days.holidays, days.workdays, days.source)
        return self.save_one(calendar)

    @command
    def set_year(self, year: int, holidays: dict[str, str], workdays: dict[str, str]) -> CommandResult:
        calendar = self.calendar(None)
        calendar.set_year(year, holidays, workdays, "entered")
        return self.save_one(calendar)

    @command
    def set_day(self, department_id: UUID | None, day: str, kind: str, name: str) -> CommandResult:
        calendar = self.calendar(department_id)
        calendar.set_day(day, kind, name)
        return self.save_one(calendar)

    def working_time(self, department_id: UUID | None = None) -> WorkingTime:
        """The working time of a department (its own calendar, else the firm's; no firm calendar:
        Monday to Friday, 09:00-12:00 and 13:00-17:30, no holidays). Cached, and checked against
        the calendars' stored versions on every call (one primary-key query), so an edit applies
        to the next SLA computed in any process."""
        ids = [calendar_id(None)] + ([calendar_id(department_id)] if department_id is not None else [])
        stored = self.stored_versions(ids)
        versions = (stored.get(ids[0]), stored.get(ids[-1]) if department_id is not None else None)
        cached = self._times.get(department_id)
        if cached is not None and cached[0] == versions:
            return cached[1]
        firm = self.load(ids[0], BusinessCalendar) if versions[0] is not None else None
        own = self.load(ids[1], BusinessCalendar) if versions[1] is not None else None
        if own is not None:
            time = own.working_time(firm)
        elif firm is not None:
            time = firm.working_time()
        else:
            time = WorkingTime()
        if len(self._times) >= 1_000:
            self._times.clear()
        self._times[department_id] = (versions, time)
        return time
