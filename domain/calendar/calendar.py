"""The business calendar (工作日历): the firm's, and optionally a department's.

The firm calendar holds the working hours, the weekend, and per year the public holidays and
make-up working days (节假日 / 调休), seeded from a maintained library or entered by an
administrator (a year the library does not know yet). A department calendar may have its own
working hours and its own days (a branch closed for a local holiday); every year's holidays
come from the firm calendar. Each year's days are stored in the event that set them, so a
replay never depends on the library's version."""
from __future__ import annotations

from datetime import date, time
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import event

from domain.calendar.working_time import WorkingTime, parse_hours
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import InvalidInputError, RuleViolationError
from domain.shared.ids import natural_id
from domain.shared.text import require_text

DAY_KINDS = ("holiday", "workday", "default")   # default: as the year and the weekend say
FIRM = "firm"


class YearDays(NamedTuple):
    """A year's days as a holiday source gives them."""
    holidays: dict[str, str]    # ISO date -> holiday name
    workdays: dict[str, str]    # ISO date -> the holiday a make-up working day belongs to
    source: str                 # what they came from, recorded with them


def calendar_id(department_id: UUID | None) -> UUID:
    return natural_id("calendar", FIRM if department_id is None else str(department_id))


def _hours(hours: list[list[str]]) -> tuple[tuple[time, time], ...]:
    try:
        return parse_hours([(h[0], h[1]) for h in hours])
    except (ValueError, IndexError) as exc:
        raise _invalid("hours", str(exc)) from None


def _weekend(weekend: list[int]) -> list[int]:
    if any(d not in range(7) for d in weekend) or len(set(weekend)) != len(weekend) or len(weekend) > 6:
        raise _invalid("weekend", "weekend: distinct weekdays 0 (Monday) to 6 (Sunday), at most 6")
    return sorted(weekend)


class BusinessCalendar(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        department_id: UUID | None
        name: str
        timezone: str
        weekend: list[int]
        hours: list[list[str]]

    @event(Created)
    def __init__(self, department_id: UUID | None, name: str, timezone: str, weekend: list[int],
                 hours: list[list[str]]) -> None:
        self.department_id, self.name, self.timezone = department_id, name, timezone
        self.weekend, self.hours = weekend, hours
        self.years: dict[int, dict[str, Any]] = {}     # year -> {"holidays", "workdays", "source"}
        self.days: dict[str, dict[str, str]] = {}      # ISO date -> {"kind", "name"} (single-day edits)

    @classmethod
    def open(cls, department_id: UUID | None, name: str, timezone: str, weekend: list[int],
             hours: list[list[str]]) -> BusinessCalendar:
        _hours(hours)
        try:
            WorkingTime(timezone=timezone)
        except (KeyError, ValueError):
            raise _invalid("timezone", f"unknown time zone {timezone!r}") from None
        return cls._create(cls.Created, id=calendar_id(department_id), department_id=department_id,
                           name=require_text(name.strip(), "name"), timezone=timezone, weekend=_weekend(weekend),
                           hours=hours)

    # -- hours ------------------------------------------------------------------------------------
    class HoursSet(LedgerAggregate.Event):
        weekend: list[int]
        hours: list[list[str]]

    def set_hours(self, weekend: list[int], hours: list[list[str]]) -> None:
        _hours(hours)
        weekend = _weekend(weekend)
        if (weekend, hours) == (self.weekend, self.hours):
            raise RuleViolationError("nothing changed: the calendar already has these hours and weekend")
        self._hours_set(weekend=weekend, hours=hours)

    @event(HoursSet)
    def _hours_set(self, weekend: list[int], hours: list[list[str]]) -> None:
        self.weekend, self.hours = weekend, hours

    # -- years ------------------------------------------------------------------------------------
    class YearSet(LedgerAggregate.Event):
        year: int
        holidays: dict[str, str]    # ISO date -> name (春节...)
        workdays: dict[str, str]    # ISO date -> name of the holiday it makes up for
        source: str                 # "chinese-calendar 1.11.0" or "entered"

    def set_year(self, year: int, holidays: dict[str, str], workdays: dict[str, str], source: str) -> None:
        if self.department_id is not None:
            raise RuleViolationError("a year's holidays are the firm calendar's; a department sets single days",
                                     field="year")
        for kind, days in (("holidays", holidays), ("workdays", workdays)):
            for day in days:
                if _date(day, kind).year != year:
                    raise _invalid(kind, f"{kind}: {day} is not in {year}")
        both = sorted(set(holidays) & set(workdays))
        if both:
            raise _invalid("workdays", f"{both[0]} is both a holiday and a make-up working day")
        current = self.years.get(year)
        if current and (current["holidays"], current["workdays"]) == (holidays, workdays):
            raise RuleViolationError(f"nothing changed: {year} already has these days", field="year")
        self._year_set(year=year, holidays=dict(sorted(holidays.items())),
                       workdays=dict(sorted(workdays.items())), source=source)

    @event(YearSet)
    def _year_set(self, year: int, holidays: dict[str, str], workdays: dict[str, str], source: str) -> None:
        self.years = {**self.years, year: {"holidays": holidays, "workdays": workdays, "source": source}}

    # -- single days ------------------------------------------------------------------------------
    class DaySet(LedgerAggregate.Event):
        day: str
        kind: str
        name: str

    def set_day(self, day: str, kind: str, name: str) -> None:
        _date(day, "day")
        if kind not in DAY_KINDS:
            raise _invalid("kind", f"kind: one of {', '.join(DAY_KINDS)}")
        if self.days.get(day, {"kind": "default", "name": ""}) == {"kind": kind, "name": name}:
            raise RuleViolationError(f"nothing changed: {day} is already {kind}", field="day")
        self._day_set(day=day, kind=kind, name=name)

    @event(DaySet)
    def _day_set(self, day: str, kind: str, name: str) -> None:
        if kind == "default":
            self.days = {k: v for k, v in self.days.items() if k != day}
        else:
            self.days = {**self.days, day: {"kind": kind, "name": name}}

    # -- the calculator -----------------------------------------------------------------------------
    def working_time(self, firm: BusinessCalendar | None = None) -> WorkingTime:
        """This calendar's working time; a department's takes the years from ``firm``."""
        years = (firm or self).years
        holidays = {d for y in years.values() for d in y["holidays"]}
        workdays = {d for y in years.values() for d in y["workdays"]}
        names = {d: n for y in years.values() for kind in ("holidays", "workdays") for d, n in y[kind].items()}
        layers = [firm.days, self.days] if firm is not None else [self.days]
        for days in layers:
            for day, edit in days.items():
                holidays.discard(day)
                workdays.discard(day)
                (holidays if edit["kind"] == "holiday" else workdays).add(day)
                names[day] = edit["name"]
        return WorkingTime(timezone=self.timezone, hours=_hours(self.hours), weekend=frozenset(self.weekend),
                           holidays=frozenset(date.fromisoformat(d) for d in holidays),
                           workdays=frozenset(date.fromisoformat(d) for d in workdays),
                           known_years=frozenset(years),
                           names={date.fromisoformat(d): n for d, n in names.items() if n})


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, [{"path": field, "message": message}])


def _date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _invalid(field, f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None
