"""Working time around the 2026 Spring Festival: holidays 15–23 February, make-up working
Saturdays 14 and 28 February (国务院办公厅 2026 holiday notice, as chinese-calendar has it)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.calendar.working_time import NoWorkingTimeError, WorkingTime, parse_hours

SH = ZoneInfo("Asia/Shanghai")
SPRING_FESTIVAL = frozenset(date(2026, 2, d) for d in range(15, 24))
MAKE_UP = frozenset({date(2026, 2, 14), date(2026, 2, 28)})
CAL = WorkingTime(holidays=SPRING_FESTIVAL, workdays=MAKE_UP, known_years=frozenset({2026}))


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def test_a_make_up_saturday_is_a_working_day_and_the_festival_is_not():
    assert CAL.is_working_day(date(2026, 2, 14)) and CAL.kind_of(date(2026, 2, 14)) == "workday"
    assert not CAL.is_working_day(date(2026, 2, 16)) and CAL.kind_of(date(2026, 2, 16)) == "holiday"
    assert not CAL.is_working_day(date(2026, 3, 7)) and CAL.kind_of(date(2026, 3, 7)) == "weekend"
    assert CAL.kind_of(date(2026, 2, 24)) == "working"


def test_a_two_hour_sla_opened_late_on_the_friday_before_the_festival_runs_into_the_make_up_saturday():
    assert CAL.add(at(2, 13, 16, 30), timedelta(hours=2)) == at(2, 14, 10)


def test_a_two_hour_sla_opened_on_the_last_working_day_before_the_festival_ends_after_it():
    assert CAL.add(at(2, 14, 17), timedelta(hours=2)) == at(2, 24, 10, 30)


def test_time_outside_working_hours_does_not_count():
    assert CAL.add(at(3, 2, 7), timedelta(hours=1)) == at(3, 2, 10)          # before opening
    assert CAL.add(at(3, 2, 11, 30), timedelta(hours=1)) == at(3, 2, 13, 30)  # across lunch
    assert CAL.add(at(3, 2, 20), timedelta(minutes=30)) == at(3, 3, 9, 30)    # after closing


def test_working_time_between_two_instants_skips_the_festival():
    assert CAL.between(at(2, 14, 17), at(2, 24, 10, 30)) == timedelta(hours=2)
    assert CAL.between(at(2, 24, 10), at(2, 24, 9)) == timedelta(0)
    assert CAL.working_days_between(at(3, 2, 9), at(3, 4, 9)) == pytest.approx(2.0)


def test_five_working_days_after_the_eve_of_the_festival():
    # Sat 14 (make-up) -> Tue 24, Wed 25, Thu 26, Fri 27, Sat 28 (make-up) is the fifth.
    assert CAL.add_days(at(2, 14, 15), 5) == at(2, 28, 15)


def test_an_answer_keeps_the_callers_time_zone():
    utc = datetime(2026, 3, 2, 1, 0, tzinfo=ZoneInfo("UTC"))   # 09:00 in Shanghai
    due = CAL.add(utc, timedelta(hours=1))
    assert due == at(3, 2, 10) and due.tzinfo == utc.tzinfo


def test_a_year_nobody_set_counts_weekends_only_and_says_so():
    assert CAL.unknown_years(at(12, 30, 9), datetime(2027, 1, 5, tzinfo=SH)) == [2027]
    assert CAL.is_working_day(date(2027, 1, 1))  # a Friday: unknown as a holiday until 2027 is set


def test_a_calendar_without_working_days_refuses_rather_than_loops():
    mondays_only = WorkingTime(weekend=frozenset(range(1, 7)))
    assert mondays_only.add(at(3, 2, 17), timedelta(hours=1)) == at(3, 9, 9, 30)
    closed = WorkingTime(weekend=frozenset(range(7)))
    with pytest.raises(NoWorkingTimeError):
        closed.add(at(3, 2, 9), timedelta(hours=1))


def test_working_hours_must_be_in_order_and_not_overlap():
    assert parse_hours([("09:00", "12:00"), ("13:00", "17:30")])[1] == (time(13), time(17, 30))
    for bad in ([("12:00", "09:00")], [("09:00", "12:00"), ("11:00", "17:00")], []):
        with pytest.raises(ValueError):
            parse_hours(bad)
