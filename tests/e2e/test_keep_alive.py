"""A handled error — and an unexpected one — is answered as a problem without closing the client's
keep-alive connection (a dropped connection after every error makes clients retry blindly)."""
from __future__ import annotations

import http.client

import pytest

from interfaces.api.app import create_app
from tests import live
from tests.engines import ADMIN_HEADERS as ADMIN


@pytest.fixture
def served(live_container, monkeypatch):
    def broken(*args, **kwargs):  # an unforeseen bug behind one endpoint
        raise RuntimeError("bug")

    monkeypatch.setattr(live_container.access_queries, "operators", broken)
    with live.served(create_app(live_container)) as port:
        yield port


def test_errors_are_answered_on_the_same_keep_alive_connection(served):
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    answers = []
    for method, path in [("GET", "/api/v1/me"), ("GET", "/api/v1/access/operators/not-a-uuid"),
                         ("GET", "/api/v1/access/operators"), ("GET", "/api/v1/me")]:
        conn.request(method, path, headers=ADMIN)
        response = conn.getresponse()
        response.read()
        answers.append((response.status, response.getheader("content-type"), response.getheader("connection"),
                        response.getheader("server")))
        if len(answers) == 1:
            sock = conn.sock
        assert conn.sock is sock, f"the connection was dropped after {answers[-2:]}"
    assert [a[0] for a in answers] == [200, 422, 500, 200]
    assert answers[2][1] == "application/problem+json" and answers[2][2] != "close"
    assert all(a[3] is None for a in answers)
    conn.close()
