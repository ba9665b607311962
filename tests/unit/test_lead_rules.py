"""Lead rules that need no engine: which phones are leads, which windows a rule may have,
which texts hit a sensitive word."""
from __future__ import annotations

from datetime import time
from uuid import uuid4

import pytest

from domain.leads.allocation import Window
from domain.leads.lead import OPENING_KINDS, Lead
from domain.leads.phone import InvalidPhoneError, normalise_phone
from domain.leads.rulebook import RuleBook
from domain.leads.settings import LeadSettings
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import RuleViolationError
from tests.unit.test_lead_allocation import rule

CTX = CommandContext("admin:test", "unit", "brokerage")


@pytest.mark.parametrize("raw", ["+85291234567", "+12025550143", "+447911123456"])
def test_valid_foreign_numbers_are_refused_as_not_mainland_mobiles(raw):
    with pytest.raises(InvalidPhoneError, match="mainland mobile"):
        normalise_phone(raw)


def test_a_rule_whose_window_starts_when_it_ends_is_refused():
    with acting_as(CTX):
        book = RuleBook.create("brokerage")
        night = rule(members=[{"id": "operator:a"}], window=Window(start=time(18), end=time(18)))
        with pytest.raises(RuleViolationError, match="start and end"):
            book.save_rule(night)
        book.save_rule(rule(members=[{"id": "operator:a"}], window=Window(start=time(18), end=time(8))))
    assert list(book.rules) == ["r"]


@pytest.mark.parametrize(("text", "hits"), [
    ("确保本月到账", []),
    ("本产品保本稳赚", ["保本", "稳赚"]),
    ("确保保本", ["保本"]),
    ("保 本", ["保本"]),
    ("穩-賺", ["稳赚"]),
])
def test_sensitive_words_match_words_not_the_middle_of_other_phrases(text, hits):
    with acting_as(CTX):
        settings = LeadSettings.create("brokerage")
        settings.change_sensitive_words(["保本", "稳赚"], [])
    assert settings.hits(text) == hits


def test_a_lead_refuses_an_opening_step_of_a_kind_it_does_not_know():
    with acting_as(CTX):
        lead = Lead.create(uuid4(), "brokerage", "+8613800000001", "digest", {"channel_code": "ths", "at": "2026-11-23T02:00:00+00:00"},
                           "valid", None, "dep", None, [])
        with pytest.raises(RuleViolationError, match="teleported"):
            lead.progress_opening("teleported", None, "2026-11-23T03:00:00+00:00", None, None)
        for kind in OPENING_KINDS[:3]:
            lead.progress_opening(kind, None, "2026-11-23T03:00:00+00:00", None, None)
    assert lead.opening["kind"] == "interrupted"
