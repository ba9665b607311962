"""Lead rules on real engines: recycling timing, filter reasons, who may receive leads and
where a reassigned lead lands."""
from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from domain.leads.lead import Lead
from domain.leads.rulebook import RecycleRule
from domain.shared.errors import RuleViolationError
from tests.integration.test_leads import ADMIN, LINE, firm, phone, rule  # noqa: F401 - the firm fixture


def test_more_than_one_day_not_opened_means_strictly_more_than_24_hours(firm):  # noqa: F811
    container, clock, deps = firm
    leads = container.leads
    leads.save_rule(ADMIN, LINE, rule(deps, strategy="round_robin", members=[{"id": "operator:ann"}]))
    leads.save_recycle_rule(ADMIN, LINE, RecycleRule(key="day", name="1天未开户", owner_department=deps["online"],
                                                     scope_departments=[deps["online"]], days=1,
                                                     to_department=deps["pool"]))
    leads.intake(ADMIN, "ths", [{"phone": phone(1)}], "api")
    container.runners["leads.leads"].catch_up()
    clock.now += timedelta(days=1)
    assert container.lead_recycler.tick() == {"recycled": 0, "reassigned": 0}
    clock.now += timedelta(seconds=1)
    assert container.lead_recycler.tick() == {"recycled": 1, "reassigned": 0}


def test_a_filtered_lead_names_its_filter_reason(firm):  # noqa: F811
    container, _, deps = firm
    leads = container.leads
    leads.change_blacklist(ADMIN, LINE, [phone(9)], [], "complaint")
    out = leads.intake(ADMIN, "ths", [{"phone": phone(9)}], "api")["results"][0]
    lead = leads.load(UUID(out["lead_id"]), Lead)
    assert (lead.status, lead.reason) == ("filtered", "blacklisted")
    with pytest.raises(RuleViolationError, match=r"filtered at intake \(blacklisted\)"):
        leads.follow_up(ADMIN, lead.id, "hello", None, None, None, None, [])
