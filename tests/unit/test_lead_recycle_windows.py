"""Recycle windows of a lead, counted in calendar days or in working days of the business
calendar, around the 2026 Spring Festival (holidays 15–23 February, make-up working Saturdays
14 and 28 February)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.leads.lead import Lead
from domain.leads.rulebook import RecycleRule
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import RuleViolationError
from tests.unit.test_working_time import CAL, SH

CTX = CommandContext("admin:test", "unit", "brokerage")
FRIDAY_BEFORE_THE_FESTIVAL = datetime(2026, 2, 13, 10, tzinfo=SH)


def owned_lead(assigned: datetime) -> Lead:
    with acting_as(CTX):
        return Lead.create(uuid4(), "brokerage", "+8613800000001", "digest",
                           {"channel_code": "ths", "at": assigned.astimezone(timezone.utc).isoformat()},
                           "valid", None, "dep", "operator:ann", [])


def rule(basis: str = "calendar", days: int = 3) -> RecycleRule:
    return RecycleRule.model_validate({"key": "three", "name": "3天未开户", "owner_department": "dep",
                                       "scope_departments": ["dep"], "days": days, "days_basis": basis,
                                       "to_department": "pool"})


def test_a_rule_counts_calendar_days_unless_told_otherwise():
    assert RecycleRule.model_validate({**rule().model_dump(), "days_basis": "calendar"}) == rule()
    saved_before = {k: v for k, v in rule().model_dump().items() if k != "days_basis"}
    assert RecycleRule.model_validate(saved_before).days_basis == "calendar"


def test_three_working_days_from_the_friday_before_the_festival_end_the_wednesday_after_it():
    lead = owned_lead(FRIDAY_BEFORE_THE_FESTIVAL)
    # the make-up Saturday counts, the nine days of the festival do not
    assert lead.recycling_due_at(rule("working"), CAL) == datetime(2026, 2, 25, 10, tzinfo=SH)
    assert lead.recycling_due_at(rule("calendar")) == datetime(2026, 2, 16, 10, tzinfo=SH)


def test_a_lead_is_not_recycled_during_the_festival_by_a_working_days_rule():
    lead = owned_lead(FRIDAY_BEFORE_THE_FESTIVAL)
    in_the_festival = datetime(2026, 2, 20, 10, tzinfo=SH)
    assert lead.due_for_recycling(rule("calendar"), in_the_festival)
    assert not lead.due_for_recycling(rule("working"), in_the_festival, CAL)
    assert not lead.due_for_recycling(rule("working"), datetime(2026, 2, 25, 10, tzinfo=SH), CAL)
    with acting_as(CTX), pytest.raises(RuleViolationError, match="not due"):
        lead.recycle(rule("working"), in_the_festival, CAL)


def test_a_working_days_recycle_records_the_end_of_its_window():
    lead = owned_lead(FRIDAY_BEFORE_THE_FESTIVAL)
    with acting_as(CTX):
        lead.recycle(rule("working"), datetime(2026, 2, 25, 10, 1, tzinfo=SH), CAL)
    recycled = lead.collect_events()[-1]
    assert isinstance(recycled, Lead.RecycledAfterWorkingDays)
    assert (recycled.days, recycled.due_at, recycled.previous_owner) == (3, "2026-02-25T02:00:00+00:00",
                                                                          "operator:ann")
    assert (lead.owner, lead.department_id, lead.recycle_count) == (None, "pool", 1)


def test_a_calendar_days_recycle_records_the_event_it_always_did():
    lead = owned_lead(FRIDAY_BEFORE_THE_FESTIVAL)
    with acting_as(CTX):
        lead.recycle(rule(), FRIDAY_BEFORE_THE_FESTIVAL + timedelta(days=3, seconds=1))
    assert type(lead.collect_events()[-1]) is Lead.Recycled


def test_a_working_days_rule_without_a_calendar_is_a_programming_error():
    with pytest.raises(ValueError, match="business calendar"):
        owned_lead(FRIDAY_BEFORE_THE_FESTIVAL).recycling_due_at(rule("working"))
