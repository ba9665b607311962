"""The pure allocator: weights within 1% over 10,000 leads, caps never exceeded, round-robin
evenness, time windows (night shift), two levels, and determinism."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from domain.leads.allocation import RuleConfig, allocate, outcome
from domain.leads.phone import InvalidPhoneError, normalise_phone

HQ, G1, G2 = "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000b1", \
    "00000000-0000-0000-0000-0000000000b2"
AT = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)  # Monday 11:00 in Shanghai


def rule(**kw):
    base = {"key": "r", "name": "r", "owner_department": HQ, "target": "employee"}
    return RuleConfig.model_validate({**base, **kw})


def run(rules, n, at=AT, channel="ths"):
    states, chosen = {}, []
    for _ in range(n):
        decisions = allocate(rules, states, purpose="intake", department=HQ, channel=channel, at=at)
        chosen.append(outcome(decisions, HQ)[1])
    return Counter(chosen), states


def test_weighted_matches_weights_within_one_percent_over_10000():
    r = rule(strategy="weighted", members=[{"id": "operator:a", "weight": 5}, {"id": "operator:b", "weight": 3},
                                           {"id": "operator:c", "weight": 2}])
    counts, _ = run([r], 10_000)
    for member, weight in (("operator:a", 5), ("operator:b", 3), ("operator:c", 2)):
        assert abs(counts[member] / 10_000 - weight / 10) < 0.01


def test_weighted_with_caps_never_exceeds_a_cap_and_keeps_weights_among_the_rest():
    r = rule(strategy="weighted", members=[{"id": "operator:a", "weight": 5, "cap": 1000},
                                           {"id": "operator:b", "weight": 3}, {"id": "operator:c", "weight": 2}])
    counts, states = run([r], 10_000)
    assert counts["operator:a"] == 1000 and states["r"]["counts"]["operator:a"] == 1000
    rest = counts["operator:b"] + counts["operator:c"]
    assert abs(counts["operator:b"] / rest - 0.6) < 0.01
    capped = rule(strategy="weighted", members=[{"id": "operator:a", "weight": 1, "cap": 3},
                                                {"id": "operator:b", "weight": 1, "cap": 2}])
    counts, _ = run([capped], 10)
    assert counts == Counter({"operator:a": 3, "operator:b": 2, None: 5})  # the rest wait in the pool


def test_round_robin_counts_differ_by_at_most_one():
    r = rule(strategy="round_robin", members=[{"id": f"operator:{c}"} for c in "abcdefg"])
    for n in (1, 6, 7, 100, 1001):
        counts, _ = run([r], n)
        assert max(counts.values()) - min(counts.get(f"operator:{c}", 0) for c in "abcdefg") <= 1


def test_night_shift_window_takes_night_leads():
    day = rule(key="day", strategy="round_robin", members=[{"id": "operator:day"}])
    night = rule(key="night", strategy="round_robin", members=[{"id": "operator:night"}],
                 window={"days": [1, 2, 3, 4, 5], "start": "18:00", "end": "08:00"})
    at = lambda h, d=23: datetime(2026, 11, d, h, 30, tzinfo=timezone.utc)  # noqa: E731 - Shanghai = UTC+8
    assert run([day, night], 1, at(3))[0] == Counter({"operator:day": 1})      # Mon 11:30
    assert run([day, night], 1, at(12))[0] == Counter({"operator:night": 1})   # Mon 20:30
    assert run([day, night], 1, at(19))[0] == Counter({"operator:night": 1})   # Tue 03:30 (Monday's shift)
    assert run([day, night], 1, at(12, 28))[0] == Counter({"operator:day": 1})  # Sat 20:30: no night shift


def test_two_levels_head_office_to_department_to_employee():
    top = rule(key="top", target="department", strategy="weighted",
               members=[{"id": G1, "weight": 1}, {"id": G2, "weight": 1}])
    g1 = rule(key="g1", owner_department=G1, strategy="round_robin", members=[{"id": "operator:x"},
                                                                             {"id": "operator:y"}])
    states: dict = {}
    first = allocate([top, g1], states, purpose="intake", department=HQ, channel="ths", at=AT)
    second = allocate([top, g1], states, purpose="intake", department=HQ, channel="ths", at=AT)
    assert [(d["rule"], d["member"]) for d in first] == [("top", G1), ("g1", "operator:x")]
    assert outcome(first, HQ) == (G1, "operator:x")
    assert outcome(second, HQ) == (G2, None)  # G2 has no rule: its pool


def test_channel_scope_and_recycle_count_condition():
    ths = rule(key="ths", channels=["ths"], members=[{"id": "operator:t"}])
    again = rule(key="again", purpose="reassign", max_recycle_count=2, members=[{"id": "operator:r"}])
    assert run([ths], 1, channel="douyin")[0] == Counter({None: 1})
    for count, expected in ((1, "operator:r"), (2, "operator:r"), (3, None)):
        decisions = allocate([again], {}, purpose="reassign", department=HQ, channel="x", at=AT,
                             recycle_count=count)
        assert outcome(decisions, HQ)[1] == expected


def test_rules_refuse_bad_configuration():
    with pytest.raises(ValueError, match="needs members"):
        rule(strategy="weighted", members=[])
    with pytest.raises(ValueError, match="twice"):
        rule(members=[{"id": "operator:a"}, {"id": "operator:a"}])


@pytest.mark.parametrize("raw", ["12345", "abc", "1381234567", "138123456789", "", "01062345678", "+1 555"])
def test_malformed_phones_are_refused(raw):
    with pytest.raises(InvalidPhoneError):
        normalise_phone(raw)


def test_phone_spellings_normalise_to_one_key():
    assert {normalise_phone(p) for p in ("13812345678", "+86 138-1234-5678", "8613812345678")} == {
        "+8613812345678"}


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MEMBERS = st.lists(st.tuples(st.integers(1, 9), st.one_of(st.none(), st.integers(0, 40))), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(members=MEMBERS, strategy=st.sampled_from(["weighted", "round_robin"]), n=st.integers(1, 300))
def test_caps_hold_and_a_replay_from_empty_state_chooses_the_same(members, strategy, n):
    r = rule(strategy=strategy, members=[{"id": f"operator:m{i}", "weight": w, "cap": c}
                                         for i, (w, c) in enumerate(members)])
    first, _ = run([r], n)
    again, _ = run([r], n)
    assert first == again
    for i, (_, cap) in enumerate(members):
        if cap is not None:
            assert first[f"operator:m{i}"] <= cap
    capacity = sum(c for _, c in members) if all(c is not None for _, c in members) else n
    assert first[None] == max(0, n - capacity)  # nobody is left in the pool while a member has room
