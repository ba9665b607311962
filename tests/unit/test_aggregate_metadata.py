import pytest

from domain.access.department import Department
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import RuleViolationError


def test_every_event_says_who_when_which_line_and_request():
    with acting_as(CommandContext("op:7", "req-1", "brokerage")):
        d = Department.create("SH01", "Shanghai", "branch", None)
        d.rename("Shanghai Branch")
    created, renamed = d.collect_events()
    for e in (created, renamed):
        assert (e.actor, e.correlation_id, e.business_line) == ("op:7", "req-1", "brokerage")
        assert e.timestamp.tzinfo is not None
    assert renamed.old_name == "Shanghai" and renamed.name == "Shanghai Branch"


def test_an_event_without_an_actor_is_refused():
    with pytest.raises(RuntimeError, match="must say who acted"):
        Department.create("SH01", "Shanghai", "branch", None)


def test_system_components_act_as_system_actors():
    with acting_as(CommandContext.system("scheduler")):
        d = Department.create("X", "X", "other", None)
    assert d.collect_events()[0].actor == "system:scheduler"


def test_renaming_to_the_same_name_is_a_rule_violation():
    with acting_as(CommandContext("op", "c")):
        d = Department.create("X", "Name", "other", None)
        with pytest.raises(RuleViolationError) as err:
            d.rename("Name")
    assert err.value.field == "name"


def test_unknown_department_kind_names_the_field():
    with acting_as(CommandContext("op", "c")), pytest.raises(RuleViolationError) as err:
        Department.create("X", "Name", "castle", None)
    assert err.value.field == "kind" and "castle" in err.value.message
