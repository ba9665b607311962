"""The business calendar in the event store: seeded from chinese-calendar, entered by hand for a
year the library does not know, edited day by day, and per department."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.calendar.calendar import BusinessCalendar, calendar_id
from domain.shared.errors import AlreadyExistsError, InvalidInputError, NotFoundError, RuleViolationError

SH = ZoneInfo("Asia/Shanghai")


def test_a_firm_calendar_seeded_from_the_library_knows_the_2026_spring_festival(container, ctx):
    calendar = container.calendar
    calendar.open_calendar(ctx, None, "Firm")
    calendar.seed_year(ctx, 2026)
    time = calendar.working_time()
    assert time.kind_of(date(2026, 2, 17)) == "holiday" and time.kind_of(date(2026, 2, 14)) == "workday"
    assert calendar.calendar().years[2026]["source"].startswith("chinese-calendar ")
    assert calendar.calendar().years[2026]["holidays"]["2026-02-17"] == "春节 Spring Festival"
    due = time.add(datetime(2026, 2, 14, 17, tzinfo=SH), timedelta(hours=2))
    assert due == datetime(2026, 2, 24, 10, 30, tzinfo=SH)


def test_a_year_the_library_does_not_know_is_entered_by_hand(container, ctx):
    calendar = container.calendar
    calendar.open_calendar(ctx, None, "Firm")
    with pytest.raises(RuleViolationError) as refused:
        calendar.seed_year(ctx, 2031)
    assert refused.value.code == "year_unknown"
    calendar.set_year(ctx, 2031, {"2031-01-01": "元旦"}, {"2031-01-04": "元旦"})
    time = calendar.working_time()
    assert time.kind_of(date(2031, 1, 1)) == "holiday" and time.kind_of(date(2031, 1, 4)) == "workday"
    assert 2031 in time.known_years
    with pytest.raises(InvalidInputError):
        calendar.set_year(ctx, 2031, {"2032-01-01": "元旦"}, {})
    with pytest.raises(InvalidInputError):
        calendar.set_year(ctx, 2031, {"2031-01-02": "x"}, {"2031-01-02": "x"})


def test_an_edit_applies_to_the_next_computation_without_a_restart(container, ctx):
    calendar = container.calendar
    calendar.open_calendar(ctx, None, "Firm")
    assert calendar.working_time().is_working_day(date(2026, 3, 2))
    calendar.set_day(ctx, None, "2026-03-02", "holiday", "台风停工")
    assert not calendar.working_time().is_working_day(date(2026, 3, 2))
    calendar.set_day(ctx, None, "2026-03-02", "default", "")
    assert calendar.working_time().is_working_day(date(2026, 3, 2))


def test_a_department_calendar_has_its_own_hours_and_days_and_the_firms_years(container, ctx):
    calendar = container.calendar
    branch = container.access.create_department(ctx, "SZ", "深圳分公司", "branch", None).id
    with pytest.raises(NotFoundError):  # a department's calendar needs the firm's first
        calendar.open_calendar(ctx, branch, "Shenzhen")
    calendar.open_calendar(ctx, None, "Firm")
    calendar.seed_year(ctx, 2026)
    calendar.open_calendar(ctx, branch, "Shenzhen", hours=[["08:30", "12:00"], ["13:30", "17:00"]])
    calendar.set_day(ctx, branch, "2026-03-03", "holiday", "分公司搬迁")
    own, firm = calendar.working_time(branch), calendar.working_time()
    assert own.kind_of(date(2026, 2, 17)) == "holiday"            # the firm's Spring Festival
    assert own.kind_of(date(2026, 3, 3)) == "holiday" and firm.kind_of(date(2026, 3, 3)) == "working"
    assert own.add(datetime(2026, 3, 2, 8, 30, tzinfo=SH), timedelta(hours=1)) == \
        datetime(2026, 3, 2, 9, 30, tzinfo=SH)
    other = container.access.create_department(ctx, "BJ", "北京分公司", "branch", None).id
    assert calendar.working_time(other) == firm                     # no calendar of its own
    with pytest.raises(RuleViolationError):  # years are the firm's
        calendar.load(calendar_id(branch), BusinessCalendar).set_year(2027, {}, {}, "entered")


def test_the_firm_calendar_is_opened_once(container, ctx):
    container.calendar.open_calendar(ctx, None, "Firm")
    with pytest.raises(AlreadyExistsError):
        container.calendar.open_calendar(ctx, None, "Firm again")


def test_without_a_calendar_monday_to_friday_counts(container):
    time = container.calendar.working_time()
    assert time.kind_of(date(2026, 2, 17)) == "working" and time.known_years == frozenset()
