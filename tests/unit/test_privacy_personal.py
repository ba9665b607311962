"""Which values of an event are personal and whose (the declarations), and the local key
wrapper: pure rules, no engine."""
from __future__ import annotations

from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidTag

from domain.forms.customer import Customer
from domain.leads.lead import Lead, lead_id, legacy_lead_id
from domain.leads.rulebook import RuleBook
from domain.privacy.personal import ERASED, declarations, transform
from infrastructure.privacy.keywrap import LocalKeyWrapper


def seal(ref, value):
    return ("sealed", ref, value)


def test_a_lead_created_seals_its_phone_its_phone_digest_and_each_intake_field_value_and_keeps_the_field_names():
    lead = uuid4()
    state = {"originator_id": lead, "phone": "+8613800000001", "phone_digest": "d", "business_line": "b",
             "intake": {"channel_code": "ths", "fields": {"name": "张三", "city": "上海"}}}
    out = transform(state, Lead.Created, seal)
    ref = f"lead:{lead}"
    assert out["phone"] == ("sealed", ref, "+8613800000001")
    assert out["intake"] == {"channel_code": "ths", "fields": {"name": ("sealed", ref, "张三"),
                                                               "city": ("sealed", ref, "上海")}}
    assert out["phone_digest"] == ("sealed", ref, "d") and out["business_line"] == "b"
    assert state["intake"]["fields"]["name"] == "张三"  # the event in memory keeps its clear values


def test_a_batch_event_seals_each_entry_under_its_own_subject():
    a, b = str(uuid4()), str(uuid4())
    state = {"originator_id": uuid4(), "decisions": [{"lead": a, "phone": "+861"}, {"lead": b, "phone": "+862"}]}
    out = transform(state, RuleBook.Allocated, seal)
    assert [d["phone"] for d in out["decisions"]] == [("sealed", f"lead:{a}", "+861"), ("sealed", f"lead:{b}", "+862")]


def test_absent_none_and_already_erased_values_are_left_as_they_are():
    state = {"originator_id": uuid4(), "profile": {"name": ERASED, "phone": None, "status": "normal"},
             "old_profile": {}}
    assert transform(state, Customer.Updated, seal) == state


def test_events_without_personal_fields_are_not_copied():
    state = {"originator_id": uuid4(), "rule": "r"}
    assert transform(state, Lead.Recycled, seal) is state


def test_every_declaration_names_a_known_subject_kind_and_fields():
    listed = {(cls.__qualname__, d.kind) for cls, d in declarations()}
    assert ("Lead.Created", "lead") in listed and ("Customer.Registered", "customer") in listed


def test_lead_ids_come_from_the_keyed_hash_and_change_with_each_erasure_generation():
    assert lead_id("b", "digest") != legacy_lead_id("b", "+8613800000001")
    assert len({lead_id("b", "digest", g) for g in range(3)}) == 3


def test_a_wrapped_key_unwraps_only_for_its_own_subject_and_master_key():
    wrapper = LocalKeyWrapper(b"a master key of enough length")
    wrapped = wrapper.wrap(b"k" * 32, "lead:1")
    assert wrapper.unwrap(wrapped, "lead:1") == b"k" * 32
    with pytest.raises(InvalidTag):
        wrapper.unwrap(wrapped, "lead:2")  # moved to another subject's row
    with pytest.raises(InvalidTag):
        LocalKeyWrapper(b"another master key, as long").unwrap(wrapped, "lead:1")
    assert wrapper.key_id == LocalKeyWrapper(b"a master key of enough length").key_id != LocalKeyWrapper(
        b"another master key, as long").key_id


def test_a_masked_field_shows_the_erasure_marker_as_it_is():
    from domain.access.masking import mask_value

    assert mask_value(ERASED, "name") == ERASED and mask_value(ERASED, "phone") == ERASED
    assert mask_value("张三丰", "name") == "张**"
