"""Lead rules on real engines: recycling timing, filter reasons, who may receive leads and
where a reassigned lead lands."""
from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from domain.leads.allocation import RuleConfig
from domain.leads.lead import Lead
from domain.leads.rulebook import RecycleRule
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id
from tests.integration.test_leads import ADMIN, AGENT, LINE, employee, firm, phone, rule  # noqa: F401 - the firm fixture


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


def test_disabled_employees_and_operators_without_the_line_or_a_leads_permission_cannot_be_rule_members(
        firm):  # noqa: F811
    container, _, deps = firm
    access, leads = container.access, container.leads
    access.disable_operator(ADMIN, access_id("bob"), "left the firm")
    employee(access, "otto", deps["online"], lines=())        # not in the business line
    employee(access, "pete", deps["online"], roles=())        # no leads permission
    members = [{"id": f"operator:{m}"} for m in ("ann", "bob", "otto", "pete")]
    with pytest.raises(RuleViolationError) as refused:
        leads.save_rule(ADMIN, LINE, rule(deps, strategy="round_robin", members=members))
    assert all(f"operator:{m}" in refused.value.message for m in ("bob", "otto", "pete"))
    assert "operator:ann" not in refused.value.message and refused.value.field == "members[1].id"
    leads.save_rule(ADMIN, LINE, rule(deps, strategy="round_robin", members=members[:1]))


def test_an_employee_disabled_after_the_rule_was_saved_receives_no_more_leads_and_the_replay_still_matches(
        firm):  # noqa: F811
    container, _, deps = firm
    access, leads = container.access, container.leads
    leads.save_rule(ADMIN, LINE, rule(deps, strategy="round_robin", members=[{"id": "operator:ann"},
                                                                           {"id": "operator:bob"}]))
    def owners(*numbers: int) -> list[str | None]:
        return [r["owner"] for r in leads.intake(ADMIN, "ths", [{"phone": phone(i)} for i in numbers],
                                                  "api")["results"]]

    assert owners(0, 1) == ["operator:ann", "operator:bob"]
    access.disable_operator(ADMIN, access_id("bob"), "left the firm")
    assert owners(2, 3) == ["operator:ann", "operator:ann"]
    access.revoke_roles(ADMIN, access_id("ann"), [AGENT])  # ann no longer works leads either
    assert owners(4) == [None]
    lead = leads.load(leads.lead_for(LINE, phone(4)), Lead)
    assert lead.owner is None and lead.department_id == deps["online"]
    access.enable_operator(ADMIN, access_id("bob"))
    assert owners(5) == ["operator:bob"]
    assert leads.verify_assignments(LINE) == (6, [])


def test_a_lead_is_assigned_by_hand_only_to_an_employee_who_can_receive_leads(firm):  # noqa: F811
    """手动分配 / 转移 checks the assignee as rules check their members: enabled, working in the
    lead's business line, holding a leads permission."""
    container, _, deps = firm
    access, leads = container.access, container.leads
    access.disable_operator(ADMIN, access_id("bob"), "left the firm")
    employee(access, "otto", deps["online"], lines=())        # not in the business line
    employee(access, "pete", deps["online"], roles=())        # no leads permission
    lid = UUID(leads.intake(ADMIN, "ths", [{"phone": phone(1)}], "api")["results"][0]["lead_id"])
    for who, why in (("bob", "disabled"), ("otto", "business line"), ("pete", "leads permission")):
        with pytest.raises(RuleViolationError) as refused:
            leads.assign(ADMIN, lid, f"operator:{who}", deps["online"], "手动分配")
        assert (refused.value.code, refused.value.field) == ("assignee_unavailable", "owner")
        assert f"operator:{who}" in refused.value.message and why in refused.value.message
    assert leads.load(lid, Lead).version == 1  # nothing recorded
    leads.assign(ADMIN, lid, "operator:ann", deps["online"], "手动分配")
    with pytest.raises(RuleViolationError, match="operator:pete"):  # a transfer is checked the same way
        leads.assign(ADMIN, lid, "operator:pete", deps["online"], "转移")
    assert leads.load(lid, Lead).owner == "operator:ann"

def test_a_lead_reassigned_by_a_head_office_rule_lands_in_the_employees_department(firm):  # noqa: F811
    container, clock, deps = firm
    access, leads = container.access, container.leads
    employee(access, "gus", deps["g1"])
    leads.save_rule(ADMIN, LINE, rule(deps, strategy="round_robin", members=[{"id": "operator:ann"}]))
    leads.save_recycle_rule(ADMIN, LINE, RecycleRule(key="back", name="回收", owner_department=deps["online"],
                                                     scope_departments=[deps["online"]], days=1,
                                                     to_department=deps["pool"]))
    leads.save_rule(ADMIN, LINE, RuleConfig.model_validate({
        "key": "again", "name": "总部再分配", "purpose": "reassign", "owner_department": deps["pool"],
        "target": "employee", "strategy": "round_robin", "members": [{"id": "operator:gus"}]}))
    lid = UUID(leads.intake(ADMIN, "ths", [{"phone": phone(1)}], "api")["results"][0]["lead_id"])
    container.runners["leads.leads"].catch_up()
    clock.now += timedelta(days=2)
    assert container.lead_recycler.tick() == {"recycled": 1, "reassigned": 1}
    lead = leads.load(lid, Lead)
    assert (lead.owner, lead.department_id) == ("operator:gus", deps["g1"])
    # so a recycle rule over g1 takes it back, and g1's supervisor sees it
    leads.save_recycle_rule(ADMIN, LINE, RecycleRule(key="g1", name="g1 回收", owner_department=deps["g1"],
                                                     scope_departments=[deps["g1"]], days=1,
                                                     to_department=deps["g2"]))
    container.runners["leads.leads"].catch_up()
    clock.now += timedelta(days=2)
    assert container.lead_recycler.tick()["recycled"] == 1
    assert leads.load(lid, Lead).department_id == deps["g2"]


def access_id(login: str) -> UUID:
    return natural_id("operator", login)
