"""Recycle windows in working days of the business calendar, on real engines: the firm calendar
seeded for 2026 from chinese-calendar (Spring Festival holidays 15–23 February, make-up working
Saturdays 14 and 28 February), a department's own calendar, and a recorded window end that a
later edit of the calendar or a rebuild of the read model never moves."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.leads.lead import Lead
from domain.leads.rulebook import RecycleRule
from tests.integration.test_leads import ADMIN, LINE, firm, phone, rule  # noqa: F401 - the firm fixture

SH = ZoneInfo("Asia/Shanghai")
FRIDAY_BEFORE_THE_FESTIVAL = datetime(2026, 2, 13, 10, tzinfo=SH)


def _three_working_days(container, clock, deps):
    """A lead given to ann at 10:00 on the Friday before the festival, under a rule of 3 working days."""
    container.calendar.open_calendar(ADMIN, None, "Firm")
    container.calendar.seed_year(ADMIN, 2026)
    leads = container.leads
    leads.save_rule(ADMIN, LINE, rule(deps, strategy="round_robin", members=[{"id": "operator:ann"}]))
    leads.save_recycle_rule(ADMIN, LINE, RecycleRule(
        key="three", name="3个工作日未开户", owner_department=deps["online"], scope_departments=[deps["online"]],
        days=3, days_basis="working", to_department=deps["pool"]))
    clock.now = FRIDAY_BEFORE_THE_FESTIVAL.astimezone(timezone.utc)
    lead = UUID(leads.intake(ADMIN, "ths", [{"phone": phone(1)}], "api")["results"][0]["lead_id"])
    container.runners["leads.leads"].catch_up()
    return lead


def test_a_working_days_window_opened_before_the_spring_festival_ends_after_it(firm):  # noqa: F811
    container, clock, deps = firm
    lead = _three_working_days(container, clock, deps)
    recycler = container.lead_recycler
    clock.now = datetime(2026, 2, 23, 18, tzinfo=SH)  # ten calendar days, one working day (the make-up Saturday)
    assert recycler.tick() == {"recycled": 0, "reassigned": 0}
    clock.now = datetime(2026, 2, 25, 10, tzinfo=SH)  # exactly three working days: not yet *more than*
    assert recycler.tick() == {"recycled": 0, "reassigned": 0}
    clock.now += timedelta(seconds=1)
    assert recycler.tick() == {"recycled": 1, "reassigned": 0}
    recycled = list(container.leads.events.get(lead))[-1]
    assert isinstance(recycled, Lead.RecycledAfterWorkingDays)
    assert (recycled.rule, recycled.days, recycled.due_at) == ("three", 3, "2026-02-25T02:00:00+00:00")
    assert container.leads.load(lead, Lead).owner is None


def test_the_recorded_window_end_survives_a_calendar_edit_and_a_rebuild(firm):  # noqa: F811
    container, clock, deps = firm
    lead = _three_working_days(container, clock, deps)
    clock.now = datetime(2026, 2, 26, 9, tzinfo=SH)
    assert container.lead_recycler.tick()["recycled"] == 1
    container.calendar.set_day(ADMIN, None, "2026-02-24", "holiday", "台风停工")  # after the decision
    runner = container.runners["leads.leads"]
    runner.reset()
    runner.catch_up()
    entry = container.lead_queries.timeline(lead, "transfer")[0]
    assert entry["kind"] == "recycled"
    assert entry["detail"]["days_basis"] == "working"
    assert entry["detail"]["due_at"] == "2026-02-25T02:00:00+00:00"


def test_a_department_calendar_of_its_own_counts_for_its_leads(firm):  # noqa: F811
    container, clock, deps = firm
    lead = _three_working_days(container, clock, deps)
    online = UUID(deps["online"])
    container.calendar.open_calendar(ADMIN, online, "线上金融部")
    container.calendar.set_day(ADMIN, online, "2026-02-25", "holiday", "部门团建")
    clock.now = datetime(2026, 2, 25, 18, tzinfo=SH)  # due on the firm's calendar, not the department's
    assert container.lead_recycler.tick()["recycled"] == 0
    clock.now = datetime(2026, 2, 26, 10, 0, 1, tzinfo=SH)
    assert container.lead_recycler.tick()["recycled"] == 1
    assert list(container.leads.events.get(lead))[-1].due_at == "2026-02-26T02:00:00+00:00"
