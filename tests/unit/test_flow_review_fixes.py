"""Regression tests for the flow-engine review (issue 5): pure domain, no engines."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from domain.access.masking import FieldRuleView, apply_rules
from domain.flows.fields import merge_edit, present_form_edit, restore_unseen
from domain.shared.errors import PermissionDeniedError

MASK_BANK = FieldRuleView("flows.instance", "bank_account", "masked", "bank_card", frozenset(), frozenset(),
                          frozenset(), frozenset())
HIDE_PHONE = FieldRuleView("flows.instance", "contact_phone", "hidden", None, frozenset(), frozenset(),
                           frozenset(), frozenset())
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def present(record):
    return apply_rules({"data": record}, [MASK_BANK, HIDE_PHONE])["data"]


def test_c1_timeline_form_edits_hide_and_mask_values_like_the_form_data():
    detail = {"patch": [{"op": "add", "path": "/settlement", "value": {"bank_account": "6222021234567890128"}},
                        {"op": "replace", "path": "/settlement/bank_account", "value": "6222029999999990009"},
                        {"op": "replace", "path": "/basic/contact_phone", "value": "13900000000"},
                        {"op": "replace", "path": "/commercial/term_months", "value": 24}],
              "old_values": {"/settlement/bank_account": "6222021234567890128",
                             "/basic/contact_phone": "13812345678", "/commercial/term_months": 12}}
    shown = present_form_edit(detail, present, set())
    text = repr(shown)
    for secret in ("6222021234567890128", "6222029999999990009", "13900000000", "13812345678"):
        assert secret not in text
    assert shown["patch"][0]["value"] == {"bank_account": "6222****0128"}
    assert shown["patch"][2] == {"op": "replace", "path": "/basic/contact_phone", "value_hidden": True}
    assert shown["old_values"] == {"/settlement/bank_account": "6222****0128", "/commercial/term_months": 12}
    # a field hidden at the viewer's node disappears from the timeline altogether
    assert [op["path"] for op in present_form_edit(detail, present, {"commercial"})["patch"]] == [
        "/settlement", "/settlement/bank_account", "/basic/contact_phone"]


STORED = {"basic": {"name": "甲", "contact_phone": "13812345678"}, "rates": {"r": 1},
          "settlement": {"bank_account": "6222021234567890128", "bank_name": "招商"}}


def test_h4_h5_edits_deny_by_default_never_compare_hidden_fields_and_support_dotted_paths():
    # deny by default: a node without permissions lets nothing change
    with pytest.raises(PermissionDeniedError):
        merge_edit(STORED, {**STORED, "rates": {"r": 2}}, {}, "end")
    # hidden sections are taken from the stored data whatever is sent: no guessing oracle
    sent = {"basic": {"name": "乙"}, "rates": {"r": 1}, "settlement": {"bank_account": "0", "bank_name": "x"}}
    merged = merge_edit(STORED, sent, {"basic": "editable", "settlement": "hidden"}, "n")
    assert merged["settlement"] == STORED["settlement"] and merged["basic"] == {"name": "乙"}
    # dotted paths: the section is editable except its hidden bank account
    merged = merge_edit(STORED, {**STORED, "settlement": {"bank_name": "工行"}},
                        {"settlement": "editable", "settlement.bank_account": "hidden"}, "n")
    assert merged["settlement"] == {"bank_account": "6222021234567890128", "bank_name": "工行"}
    with pytest.raises(PermissionDeniedError) as refused:
        merge_edit(STORED, {**STORED, "settlement": {**STORED["settlement"], "bank_account": "1"}},
                   {"settlement": "editable", "settlement.bank_account": "readonly"}, "n")
    assert refused.value.field == "settlement.bank_account"


def test_h4_masked_values_echoed_back_and_rule_hidden_fields_left_out_are_kept():
    view = present(STORED)
    sent = {**view, "rates": {"r": 3}}
    restored = restore_unseen(sent, view, STORED)
    assert restored["settlement"]["bank_account"] == "6222021234567890128"
    assert restored["basic"]["contact_phone"] == "13812345678"
    assert restored["rates"] == {"r": 3}
