"""Notifications over HTTP (ADR 0015): your list with keyset paging, the unread badge, read marks,
preferences with If-Match within firm policy, and the live stream — a new task within 1 s."""
from __future__ import annotations

import http.client
import queue
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from interfaces.api.app import create_app
from tests.e2e.signing_firm import START, ok
from tests.engines import ADMIN_HEADERS as ADMIN

N = "/api/v1/notifications"


def start(client, headers, title="甲公司签约"):
    return ok(client.post("/api/v1/flows/instances", headers=headers, json={
        "definition": "tenant_signing", "subject": "institution", "title": title, "data": START}), 201)


def test_your_list_pages_newest_first_and_read_marks_clear_the_badge(client, signing):
    t = signing
    positions = [start(client, t["sam"], f"签约{i}")["position"] for i in range(3)]
    wait = {"wait_for_position": positions[-1]}
    first = ok(client.get(N, params={**wait, "limit": 2}, headers=t["olga"]))
    assert [n["title"] for n in first["items"]] == ["新待办：签约2", "新待办：签约1"]
    assert first["items"][0]["link"] == f"/flows/instances/{first['items'][0]['instance_id']}"
    rest = ok(client.get(N, params={"limit": 2, "cursor": first["next_cursor"]}, headers=t["olga"]))
    assert [n["title"] for n in rest["items"]] == ["新待办：签约0"] and rest["next_cursor"] is None
    assert ok(client.get(f"{N}/unread-count", headers=t["olga"])) == {"unread": 3}
    assert ok(client.get(N, headers=t["sam"]))["items"] == []

    read = ok(client.post(f"{N}/{first['items'][0]['id']}/read", headers=t["olga"]))
    assert ok(client.get(f"{N}/unread-count", params={"wait_for_position": read["position"]},
                         headers=t["olga"])) == {"unread": 2}
    unread = ok(client.get(N, params={"unread": True}, headers=t["olga"]))
    assert [n["title"] for n in unread["items"]] == ["新待办：签约1", "新待办：签约0"]
    assert all(n["read_at"] is None for n in unread["items"])

    others = client.post(f"{N}/{first['items'][0]['id']}/read", headers=t["clara"])
    assert others.status_code == 404 and others.headers["content-type"] == "application/problem+json"
    done = ok(client.post(f"{N}/read-all", headers=t["olga"]))
    assert ok(client.get(f"{N}/unread-count", params={"wait_for_position": done["position"]},
                         headers=t["olga"])) == {"unread": 0}
    bad = client.get(N, params={"cursor": "not-a-cursor"}, headers=t["olga"])
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
    kind = ok(client.get(N, params={"kind": "copied"}, headers=t["olga"]))
    assert kind["items"] == []


def test_preferences_are_yours_replaced_with_if_match_and_within_firm_policy(client, signing):
    t = signing
    read = client.get(f"{N}/preferences", headers=t["olga"])
    body = ok(read)
    assert read.headers["ETag"] == '"0"' and body["language"] == "zh" and body["version"] == 0
    assert body["effective"]["task_arrived"] == ["in_app"]
    assert body["policy"]["required_in_app"] == ["returned_to_you", "sla_breached", "sla_escalated", "task_arrived"]
    wanted = {"language": "en", "channels": {"copied": ["email"]},
              "quiet_hours": {"start": "22:00", "end": "08:00", "timezone": "Asia/Shanghai"}}
    ok(client.put(f"{N}/preferences", json=wanted, headers={**t["olga"], "If-Match": '"0"'}))
    again = ok(client.get(f"{N}/preferences", headers=t["olga"]))
    assert (again["language"], again["channels"], again["version"]) == ("en", {"copied": ["email"]}, 2)
    assert again["effective"]["copied"] == ["email"] and again["quiet_hours"]["end"] == "08:00"
    stale = client.put(f"{N}/preferences", json={**wanted, "language": "zh"}, headers={**t["olga"], "If-Match": '"0"'})
    assert stale.status_code == 409
    muted = client.put(f"{N}/preferences", json={"channels": {"task_arrived": ["email"]}}, headers=t["olga"])
    assert muted.status_code == 422 and muted.json()["field"] == "channels.task_arrived"
    unknown = client.put(f"{N}/preferences", json={"channels": {"copied": ["fax"]}}, headers=t["olga"])
    assert unknown.status_code == 422
    same = client.put(f"{N}/preferences", json=wanted, headers=t["olga"])
    assert same.status_code == 422 and same.json()["code"] == "rule_violation"  # nothing changed


def test_only_operators_have_notifications(client, signing):
    for path in (N, f"{N}/unread-count", f"{N}/preferences", f"{N}/stream"):
        answer = client.get(path, headers=ADMIN)
        assert answer.status_code == 403, path
        assert answer.headers["content-type"] == "application/problem+json"
    assert client.get(N).status_code == 401


@pytest.fixture
def served(live_container, client, signing):
    """The API on a real socket (uvicorn), for the stream: ``(base url, each person's headers, progress)``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(live_container), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", signing, live_container.progress
    server.should_exit = True
    thread.join(timeout=10)


class Listener:
    """Reads a stream on a thread of its own: each line with the moment it arrived."""

    def __init__(self, base: str, path: str, headers: dict):
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.lines: queue.Queue = queue.Queue()
        self.closed = False
        self.conn.request("GET", path, headers=headers)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            answer = self.conn.getresponse()
            self.lines.put((time.monotonic(), f"status {answer.status} {answer.getheader('content-type')}"))
            while line := answer.readline():
                self.lines.put((time.monotonic(), line.decode().rstrip("\n")))
        except OSError:
            if not self.closed:
                raise

    def next(self, prefix: str, timeout: float = 10) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while True:
            at, line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            if line.startswith(prefix):
                return at, line

    def close(self) -> None:
        """Hang up: the server sees the client go and ends the stream."""
        self.closed = True
        if self.conn.sock is not None:
            self.conn.sock.shutdown(socket.SHUT_RDWR)


def test_the_stream_delivers_a_new_task_within_one_second(served):
    base, t, progress = served
    others = progress.subscribed  # the service's own subscribers (the notifier's wake-up)
    live = Listener(base, f"{N}/stream", t["olga"])
    assert live.next("status")[1] == "status 200 text/event-stream; charset=utf-8"
    live.next(": notifications of operator:olga")  # connected, reading from now on
    with httpx.Client(base_url=base, timeout=10) as http:
        for title in ("第一单", "第二单"):
            asked = time.monotonic()
            start(http, t["sam"], title)
            arrived, data = live.next("data: ")
            print(f"stream: {title} arrived {arrived - asked:.3f} s after the start was sent")
            assert title in data
            assert arrived - asked < 1.0, f"the task took {arrived - asked:.3f} s to reach the stream"

    # A client that reconnects with Last-Event-ID gets what it missed since, at once.
    missed = Listener(base, f"{N}/stream", {**t["olga"], "Last-Event-ID": "0"})
    assert ["第一单" in missed.next("data: ")[1], "第二单" in missed.next("data: ")[1]] == [True, True]
    assert progress.subscribed == others + 2
    live.close()
    missed.close()
    deadline = time.monotonic() + 5  # the server notices each client go and ends its stream
    while progress.subscribed > others and time.monotonic() < deadline:
        time.sleep(0.05)
    assert progress.subscribed == others
