"""The form engine, pure: formats, schema compilation problems, validation, diffs."""
from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.forms.engine.schema import FormSchemaError, compile_form, validate
from domain.forms.diff import apply_patch, diff, make_patch
from infrastructure.eventstore.transcoder import OrjsonTranscoder
from interfaces.demo_forms import BUSINESS_TYPES, FEE_RATE, TENANT_SIGNING


def test_every_demo_form_compiles():
    for code, _, _, _, forms in BUSINESS_TYPES:
        for subject, schema in forms.items():
            assert compile_form(schema).fields, (code, subject)


def _problems(schema):
    with pytest.raises(FormSchemaError) as err:
        compile_form(schema)
    return {p.path: p.message for p in err.value.problems}


def test_publishing_problems_name_the_field_and_the_problem():
    problems = _problems({"type": "object", "properties": {
        "a": {"type": "string", "x-component": "Slider"},
        "b": {"type": "number", "x-component": "NumberPicker", "x-reactions": [{"fulfill": {"value": "a +"}}]},
        "c": {"type": "number", "x-component": "NumberPicker", "x-reactions": [{"fulfill": {"value": "ghost * 2"}}]},
        "d": {"type": "array", "x-component": "ArrayTable", "items": {"type": "object", "properties": {}}},
        "e": {"type": "number", "x-component": "Input"},
        "f": {"type": "string", "x-component": "Input", "format": "horoscope"},
    }})
    assert "unknown x-component 'Slider'" in problems["a"]
    assert "CEL does not compile" in problems["b.x-reactions[0]"]
    assert "unknown fields: ghost" in problems["c.x-reactions[0]"]
    assert "rows are matched by id" in problems["d"]
    assert "Input needs type string" in problems["e"]
    assert "unknown format 'horoscope'" in problems["f"]


def test_an_invalid_json_schema_is_named():
    assert "invalid JSON Schema" in _problems({"type": "object", "properties": {"a": {"type": "strung"}}})[
        "properties.a.type"]


def test_custom_formats_check_checksums():
    form = compile_form(TENANT_SIGNING)
    data = {"basic": {"tenant_name_cn": "甲", "uscc": "91350100M000100Y44", "contact_name": "x",
                      "contact_phone": "12345678901"},
            "commercial": {"products": ["VCC"], "term_months": 12},
            "settlement": {"bank_name": "b", "bank_account": "6222021234567890123", "settlement_cycle": "T+1"}}
    _, errors = validate(form, data)
    assert {(e.path, e.rule) for e in errors} == {
        ("basic.uscc", "format"), ("basic.contact_phone", "format"), ("settlement.bank_account", "format")}
    assert all(e.pointer.startswith("/") and e.message for e in errors)


def test_computed_fields_and_show_hide_rules_run_server_side():
    form = compile_form(FEE_RATE)
    base = {"customer": {"fund_account": "88001234"}, "exchange": "SHFE", "effective_date": "2026-12-01",
            "rates": [{"id": "r1", "product": "cu", "rate": 2.0}, {"id": "r2", "product": "al", "rate": 1.5}]}
    data, errors = validate(form, base)
    assert errors == [] and "special_reason" not in data          # hidden: not required, not kept
    assert data["special_rows"] == 0 and data["rates"][0]["multiple_of_exchange"] == 4.0
    low = copy.deepcopy(base)
    low["rates"][1]["rate"] = 0.5
    data, errors = validate(form, {**low, "special_reason": ""})
    assert errors == [] and data["special_reason"] == "" and data["special_rows"] == 1  # visible now
    _, errors = validate(form, low)
    assert [(e.path, e.rule) for e in errors] == [("special_reason", "required")]


def test_sub_table_errors_point_at_the_row():
    form = compile_form(FEE_RATE)
    _, errors = validate(form, {"customer": {"fund_account": "1"}, "exchange": "XXX", "effective_date": "2026-13-01",
                                "rates": [{"id": "r1", "product": "cu", "rate": 200}]})
    paths = {e.path for e in errors}
    assert {"customer.fund_account", "exchange", "effective_date", "rates.0.rate"} <= paths


# -- property-based: storage round trip and patches ------------------------------------------------
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
row = st.fixed_dictionaries({"id": st.uuids().map(str), "product": text, "rate": st.floats(0, 100, allow_nan=False)})
rows = st.lists(row, max_size=6, unique_by=lambda r: r["id"])
submission = st.fixed_dictionaries({
    "exchange": st.sampled_from(["SHFE", "DCE"]), "note": text, "flag": st.booleans(),
    "amount": st.integers(-10**9, 10**9), "rates": rows, "basic": st.fixed_dictionaries({"name": text})})


@settings(max_examples=200, deadline=None)
@given(submission)
def test_a_submission_round_trips_through_storage_unchanged(data):
    transcoder = OrjsonTranscoder()
    assert transcoder.decode(transcoder.encode({"data": data}))["data"] == data


@settings(max_examples=300, deadline=None)
@given(submission, submission, st.randoms())
def test_the_patch_between_two_submissions_turns_the_first_into_the_second(old, new, rnd):
    # Share some rows so that edits, deletes, inserts and reorders of the same ids all occur.
    shared = old["rates"][: len(old["rates"]) // 2]
    new["rates"] = [dict(r, rate=r["rate"] + 1) if rnd.random() < 0.5 else r for r in shared] + new["rates"]
    rnd.shuffle(new["rates"])
    assert apply_patch(old, make_patch(old, new)) == new


def test_the_diff_matches_rows_by_id_not_position():
    old = {"rates": [{"id": "a", "rate": 1}, {"id": "b", "rate": 2}, {"id": "c", "rate": 3}]}
    reordered = {"rates": [old["rates"][2], old["rates"][0], old["rates"][1]]}
    assert diff(old, reordered) == []
    edited = {"rates": [{"id": "c", "rate": 3}, {"id": "a", "rate": 9}, {"id": "d", "rate": 4}]}
    changes = {(c.kind, c.path, str(c.old), str(c.new)) for c in diff(old, edited)}
    assert changes == {("changed", "rates[id=a].rate", "1", "9"), ("removed", "rates[id=b]", str(old["rates"][1]), "None"),
                       ("added", "rates[id=d]", "None", "{'id': 'd', 'rate': 4}")}
