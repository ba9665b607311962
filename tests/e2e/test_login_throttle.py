"""Login protection: failed logins and bad bearer tokens slow the guesser down with a growing
delay (429 + Retry-After) per login name and per client address, and nobody can lock a real
user out: once the delay has passed the right password works."""
from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from interfaces.api.app import create_app
from tests.engines import ADMIN_HEADERS as ADMIN
from tests.engines import running_container

PASSWORD = "Correct-Horse-42"


@pytest.fixture
def throttled(engines, tmp_path):
    with running_container(engines, tmp_path, workers=True, login_free_failures=3, address_free_failures=8,
                           throttle_max_delay_seconds=2) as container:
        client = TestClient(create_app(container))
        dept = client.post("/api/v1/access/departments", headers=ADMIN,
                           json={"code": "HQ", "name": "HQ", "kind": "head_office"}).json()["id"]
        for login in ("real-user", "other-user"):
            r = client.post("/api/v1/access/operators", headers=ADMIN, json={
                "login_name": login, "display_name": login, "department_id": dept, "password": PASSWORD})
            assert r.status_code == 201, r.text
        yield client


def from_address(client: TestClient, address: str) -> None:
    # The client address is the socket peer, which TestClient's transport sets on every request.
    client._transport.client = (address, 50000)  # type: ignore[attr-defined]


def login(client: TestClient, name: str, password: str, address: str = "198.51.100.7"):
    from_address(client, address)
    return client.post("/api/v1/auth/login", json={"login_name": name, "password": password})


def test_a_burst_of_wrong_passwords_is_answered_429_with_retry_after(throttled):
    answers = [login(throttled, "real-user", "Wrong-Guess-123") for _ in range(6)]
    codes = [r.status_code for r in answers]
    assert codes[:3] == [401, 401, 401]
    throttled_answer = next(r for r in answers if r.status_code == 429)
    assert throttled_answer.json()["code"] == "too_many_attempts"
    assert throttled_answer.headers["content-type"] == "application/problem+json"
    assert 1 <= int(throttled_answer.headers["Retry-After"]) <= 2


def test_an_anonymous_burst_against_a_login_does_not_hold_back_its_owner_elsewhere(throttled):
    for _ in range(10):
        login(throttled, "real-user", "Wrong-Guess-123", address="203.0.113.9")
    assert login(throttled, "real-user", PASSWORD, address="203.0.113.9").status_code == 429
    # The guesser keeps failing: the owner, from their own address, logs in at once.
    for _ in range(3):
        login(throttled, "real-user", "Wrong-Guess-123", address="203.0.113.9")
        owner = login(throttled, "real-user", PASSWORD, address="192.0.2.44")
        assert owner.status_code == 200, owner.text
    assert owner.headers["Cache-Control"] == "no-store"


def test_the_real_user_logs_in_from_the_same_address_once_the_delay_has_passed(throttled):
    for _ in range(6):
        login(throttled, "real-user", "Wrong-Guess-123", address="198.51.100.50")
    during = login(throttled, "real-user", PASSWORD, address="198.51.100.50")
    assert during.status_code == 429
    time.sleep(int(during.headers["Retry-After"]) + 0.2)
    after = login(throttled, "real-user", PASSWORD, address="198.51.100.50")
    assert after.status_code == 200, after.text


def test_a_password_spray_over_many_logins_is_throttled_per_address(throttled):
    codes = [login(throttled, f"user-{i}", "Spring2026!x", address="198.51.100.99").status_code for i in range(12)]
    assert codes[:8] == [401] * 8 and 429 in codes[8:]
    # Another address is not held back by the sprayer.
    assert login(throttled, "other-user", PASSWORD, address="192.0.2.10").status_code == 200


def test_unknown_and_known_login_names_are_throttled_alike(throttled):
    unknown = [login(throttled, "nobody-here", "Wrong-Guess-123", address="192.0.2.1").status_code
               for _ in range(5)]
    known = [login(throttled, "other-user", "Wrong-Guess-123", address="192.0.2.2").status_code for _ in range(5)]
    assert unknown == known


def test_guessing_bearer_tokens_is_throttled_per_address(throttled):
    valid = login(throttled, "other-user", PASSWORD, address="198.51.100.200").json()["access_token"]
    codes = [throttled.get("/api/v1/me", headers={"Authorization": f"Bearer lfa_guess{i}"}).status_code
             for i in range(12)]
    assert codes[:8] == [401] * 8 and codes[-1] == 429
    # A valid token from the same address (an office behind one NAT) is not held back.
    assert throttled.get("/api/v1/me", headers={"Authorization": f"Bearer {valid}"}).status_code == 200
