"""The live customer lookup against a local fake of the account-opening system (tests/cap_fake.py,
a real HTTP server): a live answer, the short cache, retries, the circuit breaker, falling back to
the synced copy (marked stale) when the fake is down, slow or wrong, and time bounded throughout.
The copy here is a plain function over rows in the read model's shape; the HTTP test
(tests/e2e/test_customer_lookup_live_api.py) goes through the real read model."""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from application.forms.customer_lookup import CustomerLookup, customer_row
from domain.shared.ids import natural_id
from infrastructure.forms.live_lookup import live_customers
from infrastructure.settings import Mode, Settings
from interfaces.demo_forms import CUSTOMERS
from tests.cap_fake import SETTINGS, TOKEN, FakeCap

SYNCED = {c["fund_account"]: c for c in CUSTOMERS}            # in the copy (and in CAP)
OPENED_TODAY = {**CUSTOMERS[0], "fund_account": "88009999", "name": "王五", "id_number": "310101199001011234"}
FAST = {"customer_live_timeout_seconds": 0.5, "customer_live_backoff_seconds": 0.01,
        "customer_live_backoff_max_seconds": 0.02, "customer_live_budget_seconds": 2.0}


def copy(fund_account: str) -> dict[str, Any] | None:
    profile = SYNCED.get(fund_account)
    return {**customer_row(profile), "updated_at": datetime(2026, 1, 1, tzinfo=UTC)} if profile else None


@pytest.fixture
def cap() -> Iterator[FakeCap]:
    fake = FakeCap({**SYNCED, OPENED_TODAY["fund_account"]: OPENED_TODAY})
    yield fake
    fake.stop()


def lookup(cap: FakeCap, **overrides: Any) -> CustomerLookup:
    settings = Settings(customer_live_url=cap.url, **SETTINGS, **{**FAST, **overrides})
    return CustomerLookup(copy, live_customers(settings))


def test_a_customer_opened_today_is_found_live_with_its_fields_mapped(cap):
    found = lookup(cap).find("88009999")
    assert found is not None and (found.source, found.stale) == ("live", False)
    assert found.fetched_at is not None and found.fetched_at <= datetime.now(UTC)
    assert found.row["name"] == "王五" and found.row["id_number"] == "310101199001011234"
    assert found.row["department_id"] == natural_id("department", "SH01-S1")  # what data scopes compare
    assert "department_code" not in found.row
    assert cap.paths == ["/cap/v1/customers/88009999"] and cap.auth == [f"Bearer {TOKEN}"]


def test_a_second_lookup_within_the_cache_time_does_not_call_the_system(cap):
    live = lookup(cap, customer_live_cache_seconds=0.3)
    first = live.find("88001234")
    assert live.find("88001234") == first and cap.calls == 1
    time.sleep(0.35)
    assert live.find("88001234").source == "live" and cap.calls == 2


def test_failed_attempts_are_tried_again_then_the_answer_is_live(cap):
    cap.fail_next = 2
    found = lookup(cap, customer_live_attempts=3).find("88001234")
    assert found.source == "live" and cap.calls == 3


def test_when_the_system_is_down_the_copy_is_served_and_says_it_may_be_stale(cap):
    cap.stop()
    live = lookup(cap)
    found = live.find("88001234")
    assert found is not None and (found.source, found.stale, found.fetched_at) == ("copy", True, None)
    assert found.row["name"] == "张三"
    assert live.find("88009999") is None  # opened today: neither side can say -> not found, no error


def test_after_repeated_failures_the_circuit_opens_and_the_copy_is_served_at_once(cap):
    cap.status = 500
    live = lookup(cap, customer_live_attempts=1, customer_live_breaker_failures=3,
                  customer_live_breaker_reset_seconds=0.3, customer_live_cache_seconds=0)
    for _ in range(3):
        assert live.find("88001234").stale
    assert cap.calls == 3
    started = time.monotonic()
    found = live.find("88005678")
    assert (found.source, found.stale) == ("copy", True) and cap.calls == 3  # the system was not asked
    assert time.monotonic() - started < 0.1
    cap.status = None
    time.sleep(0.35)  # the circuit lets one trial through; it succeeds and closes the circuit
    assert live.find("88005678").source == "live" and live.find("66002468").source == "live"


def test_a_slow_system_costs_at_most_the_budget_then_the_copy_is_served(cap):
    cap.delay = 5.0
    live = lookup(cap, customer_live_timeout_seconds=0.3, customer_live_attempts=5, customer_live_budget_seconds=1.0)
    started = time.monotonic()
    found = live.find("88001234")
    assert time.monotonic() - started < 1.5 and (found.source, found.stale) == ("copy", True)


def test_an_answer_trickling_in_byte_by_byte_is_cut_off(cap):
    cap.trickle = 0.05  # every byte well within the read timeout, the whole answer far beyond it
    live = lookup(cap, customer_live_timeout_seconds=0.3, customer_live_attempts=1)
    started = time.monotonic()
    assert live.find("88001234").stale and time.monotonic() - started < 1.0


def test_the_systems_no_such_account_is_final_even_when_the_copy_has_it(cap):
    del cap.customers["66002468"]  # closed and removed in the account-opening system
    live = lookup(cap)
    assert live.find("66002468") is None
    assert live.find("66002468") is None and cap.calls == 1  # "not found" is cached too


@pytest.mark.parametrize("body", [
    {"code": 0, "data": {"customer": {"acct": "88001234", "custName": 42}}},           # a number for text
    {"code": 0, "data": {"customer": {"acct": "66002468", "custName": "李四"}}},        # another account
    {"code": 0, "data": {"customer": {"acct": "88001234", "custName": "x\x00y"}}},     # unstorable text
    {"code": 0, "data": None},                                                          # no record
    {"code": 0, "data": {"customer": {"acct": "88001234", "custName": "x" * 70_000}}},  # too large
])
def test_an_answer_that_fails_validation_is_never_used(cap, body):
    cap.raw["88001234"] = body
    found = lookup(cap).find("88001234")
    assert (found.source, found.stale) == ("copy", True) and found.row["name"] == "张三"
    assert cap.calls == 1  # a wrong answer is not worth another attempt


def test_an_answer_that_cannot_be_decoded_is_never_used(cap):
    cap.encoding = "gzip"  # a body that claims to be gzip and is not
    found = lookup(cap).find("88001234")
    assert (found.source, found.stale) == ("copy", True) and cap.calls == 1


@pytest.mark.parametrize("account", ["../admin", "8800 1234", "88001234?x=1", "八八", "", "x" * 33])
def test_an_account_outside_the_directory_alphabet_is_never_sent(cap, account):
    assert lookup(cap).find(account) is None and cap.calls == 0


def test_neither_the_credential_nor_customer_data_reach_the_logs(cap, caplog):
    caplog.set_level(logging.DEBUG)
    cap.status = 500
    lookup(cap, customer_live_attempts=2, customer_live_breaker_failures=1).find("88001234")
    logged = caplog.text
    assert "circuit" in logged and "did not answer" in logged
    assert TOKEN not in logged and "88001234" not in logged and "张三" not in logged


def test_without_a_live_system_the_copy_is_the_source_and_not_stale():
    found = CustomerLookup(copy, live_customers(Settings())).find("88001234")
    assert (found.source, found.stale, found.fetched_at) == ("copy", False, None)


@pytest.mark.parametrize(("overrides", "says"), [
    ({"customer_live_url": "http://cap.internal/customers"}, "{fund_account}"),
    ({"customer_live_url": "ftp://cap.internal/{fund_account}"}, "http"),
    ({"customer_live_url": "https://cap/{fund_account}", "customer_live_fields": "salary=pay"}, "salary=pay"),
    ({"customer_live_url": "http://cap.internal/{fund_account}", "mode": Mode.production,
      "bootstrap_admin_token": "p" * 30, "audit_chain_key": "k" * 30, "notify_channels": ""}, "in clear"),
])
def test_a_live_lookup_that_cannot_work_refuses_to_start(overrides, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        Settings(**overrides)
