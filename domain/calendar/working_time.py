"""Working time (工作时间): which days are working days and which hours of them count.

A day is a working day when it is a make-up working day (调休上班), or when it is neither a
public holiday nor a weekend day. Only the working hours of working days count: an SLA of two
working hours opened at 17:00 on the Friday before the Spring Festival runs out on the first
working morning after the holiday. Times are computed in the calendar's time zone (Asia/Shanghai
by default) and answered as aware datetimes; the answers are decisions recorded in events
(a task's SLA due time), so a later change of the calendar never rewrites history.

A year the calendar does not know (nobody seeded or entered it) counts weekends only; callers
see it in ``unknown_years`` and the calendar's API reports it, since a Chinese firm's year is
never just its weekends. Pure: no I/O."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

DayKind = Literal["working", "weekend", "holiday", "workday"]

# Far enough for a year-long SLA over any plausible run of holidays; a deadline past it is a
# configuration error (no working hours at all), refused rather than looped on forever.
MAX_DAYS = 3 * 366


class NoWorkingTimeError(ValueError):
    """The calendar has no working time in the horizon searched."""


@dataclass(frozen=True)
class WorkingTime:
    timezone: str = "Asia/Shanghai"
    hours: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13), time(17, 30)))
    weekend: frozenset[int] = frozenset({5, 6})            # Monday = 0
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()                 # make-up working days (调休)
    known_years: frozenset[int] = frozenset()
    names: dict[date, str] = field(default_factory=dict, compare=False)  # 春节, 调休 for 春节, 台风停工…
    _zone: tzinfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))

    @property
    def zone(self) -> tzinfo:
        return self._zone

    # -- days -------------------------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() not in self.weekend

    def kind_of(self, day: date) -> DayKind:
        """workday (调休上班), holiday, weekend or working."""
        if day in self.workdays:
            return "workday"
        if day in self.holidays:
            return "holiday"
        return "weekend" if day.weekday() in self.weekend else "working"

    def name_of(self, day: date) -> str | None:
        return self.names.get(day)

    def unknown_years(self, start: datetime, end: datetime) -> list[int]:
        """Years between the two instants whose holidays nobody has set."""
        first, last = self._local(start).year, self._local(end).year
        return [y for y in range(first, last + 1) if y not in self.known_years]

    # -- instants ---------------------------------------------------------------------------------
    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant ``duration`` of working time after ``start`` (an SLA's due time)."""
        if duration <= timedelta(0):
            return start
        remaining = duration
        for begin, end in self._periods_from(start):
            available = end - begin
            if remaining <= available:
                return (begin + remaining).astimezone(start.tzinfo or self._zone)
            remaining -= available
        raise NoWorkingTimeError(f"no {duration} of working time within {MAX_DAYS} days of {start.isoformat()}")

    def add_days(self, start: datetime, days: int) -> datetime:
        """The same time of day ``days`` working days after ``start`` ("within 5 working days"),
        or the end of that day's working hours when ``start`` lies after them."""
        local = self._local(start)
        day, counted = local.date(), 0
        for _ in range(MAX_DAYS):
            if counted == days:
                break
            day += timedelta(days=1)
            counted += self.is_working_day(day)
        else:
            raise NoWorkingTimeError(f"no {days} working days within {MAX_DAYS} days of {start.isoformat()}")
        closing = max((end for _, end in self.hours), default=time(23, 59, 59))
        at = min(local.time().replace(tzinfo=None), closing)
        return datetime.combine(day, at, self._zone).astimezone(start.tzinfo or self._zone)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end`` (zero when end is not after start)."""
        total = timedelta(0)
        if end <= start:
            return total
        for begin, finish in self._periods_from(start, until=end):
            if begin < end:
                total += min(finish, end) - begin
        return total

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """``between`` in working days of this calendar's length (a 5-working-day KPI)."""
        length = sum((_seconds(b, e) for b, e in self.hours), 0.0)
        return self.between(start, end).total_seconds() / length if length else 0.0

    # -- internals --------------------------------------------------------------------------------
    def _local(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise ValueError("working time needs an aware datetime")
        return instant.astimezone(self._zone)

    def _periods_from(self, start: datetime, until: datetime | None = None) -> Iterator[tuple[datetime, datetime]]:
        """Working periods (local, aware) from ``start`` on, the first one clipped at it."""
        local = self._local(start)
        day = local.date()
        for _ in range(MAX_DAYS):
            if until is not None and datetime.combine(day, time(0), self._zone) >= until:
                return
            if self.is_working_day(day):
                for opening, closing in self.hours:
                    begin = datetime.combine(day, opening, self._zone)
                    end = datetime.combine(day, closing, self._zone)
                    if end > local:
                        yield max(begin, local), end
            day += timedelta(days=1)


def _seconds(begin: time, end: time) -> float:
    return (datetime.combine(date.min, end) - datetime.combine(date.min, begin)).total_seconds()


def parse_hours(periods: Iterable[tuple[str, str]]) -> tuple[tuple[time, time], ...]:
    """Working hours as ``[("09:00", "12:00"), ("13:00", "17:30")]``: in order, not overlapping."""
    parsed: list[tuple[time, time]] = []
    for opening, closing in periods:
        begin, end = time.fromisoformat(opening), time.fromisoformat(closing)
        if begin >= end:
            raise ValueError(f"working hours {opening}-{closing}: the start must come before the end")
        if parsed and begin < parsed[-1][1]:
            raise ValueError(f"working hours {opening}-{closing} overlap or come before the previous period")
        parsed.append((begin, end))
    if not parsed:
        raise ValueError("a calendar needs at least one period of working hours")
    return tuple(parsed)
