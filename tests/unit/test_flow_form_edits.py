"""Form edits at a task and on the timeline, pure domain: a node's field permissions decide what
may change (deny by default, hidden fields kept, dotted paths), values a viewer never saw are kept,
and the timeline shows edits masked and hidden like the form data itself."""
from __future__ import annotations

import pytest

from domain.access.masking import FieldRuleView, apply_rules
from domain.flows.fields import merge_edit, present_form_edit, restore_unseen
from domain.shared.errors import PermissionDeniedError

MASK_BANK = FieldRuleView("flows.instance", "bank_account", "masked", "bank_card", frozenset(), frozenset(),
                          frozenset(), frozenset())
HIDE_PHONE = FieldRuleView("flows.instance", "contact_phone", "hidden", None, frozenset(), frozenset(),
                           frozenset(), frozenset())
STORED = {"basic": {"name": "甲", "contact_phone": "13812345678"}, "rates": {"r": 1},
          "settlement": {"bank_account": "6222021234567890128", "bank_name": "招商"}}
EDIT = {"patch": [{"op": "add", "path": "/settlement", "value": {"bank_account": "6222021234567890128"}},
                  {"op": "replace", "path": "/settlement/bank_account", "value": "6222029999999990009"},
                  {"op": "replace", "path": "/basic/contact_phone", "value": "13900000000"},
                  {"op": "replace", "path": "/commercial/term_months", "value": 24}],
        "old_values": {"/settlement/bank_account": "6222021234567890128",
                       "/basic/contact_phone": "13812345678", "/commercial/term_months": 12}}


def present(record):
    return apply_rules({"data": record}, [MASK_BANK, HIDE_PHONE])["data"]


def test_timeline_form_edits_hide_and_mask_values_like_the_form_data():
    shown = present_form_edit(EDIT, present, set())
    text = repr(shown)
    for secret in ("6222021234567890128", "6222029999999990009", "13900000000", "13812345678"):
        assert secret not in text
    assert shown["patch"][0]["value"] == {"bank_account": "6222****0128"}
    assert shown["patch"][2] == {"op": "replace", "path": "/basic/contact_phone", "value_hidden": True}
    assert shown["old_values"] == {"/settlement/bank_account": "6222****0128", "/commercial/term_months": 12}


def test_a_section_hidden_at_the_viewers_node_disappears_from_the_timeline():
    assert [op["path"] for op in present_form_edit(EDIT, present, {"commercial"})["patch"]] == [
        "/settlement", "/settlement/bank_account", "/basic/contact_phone"]


def test_a_node_without_field_permissions_lets_nothing_change():
    with pytest.raises(PermissionDeniedError):
        merge_edit(STORED, {**STORED, "rates": {"r": 2}}, {}, "end")


def test_hidden_sections_are_taken_from_the_stored_data_whatever_is_sent():
    # no guessing oracle: a wrong value sent for a hidden section is neither refused nor applied
    sent = {"basic": {"name": "乙"}, "rates": {"r": 1}, "settlement": {"bank_account": "0", "bank_name": "x"}}
    merged = merge_edit(STORED, sent, {"basic": "editable", "settlement": "hidden"}, "n")
    assert merged["settlement"] == STORED["settlement"] and merged["basic"] == {"name": "乙"}


def test_a_hidden_field_inside_an_editable_section_keeps_its_stored_value():
    merged = merge_edit(STORED, {**STORED, "settlement": {"bank_name": "工行"}},
                        {"settlement": "editable", "settlement.bank_account": "hidden"}, "n")
    assert merged["settlement"] == {"bank_account": "6222021234567890128", "bank_name": "工行"}


def test_a_change_to_a_read_only_field_inside_an_editable_section_is_refused_by_its_path():
    with pytest.raises(PermissionDeniedError) as refused:
        merge_edit(STORED, {**STORED, "settlement": {**STORED["settlement"], "bank_account": "1"}},
                   {"settlement": "editable", "settlement.bank_account": "readonly"}, "n")
    assert refused.value.field == "settlement.bank_account"


def test_masked_values_echoed_back_and_rule_hidden_fields_left_out_keep_their_stored_values():
    view = present(STORED)
    sent = {**view, "rates": {"r": 3}}
    restored = restore_unseen(sent, view, STORED)
    assert restored["settlement"]["bank_account"] == "6222021234567890128"
    assert restored["basic"]["contact_phone"] == "13812345678"
    assert restored["rates"] == {"r": 3}
