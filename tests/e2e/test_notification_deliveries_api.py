"""/api/v1/notification-deliveries over HTTP: the dead-letter list (filters, keyset paging), one
delivery, counts, and sending one again — each behind its own permission."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from domain.shared.context import CommandContext
from tests.integration.notification_outbox import enqueue

URL = "/api/v1/notification-deliveries"
SETUP = CommandContext("admin:bootstrap", "setup")
PASSWORD = "Deliveries-2026"


def ok(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()


def _login(client, container, login, permissions):
    access = container.access
    dept = access.create_department(SETUP, f"D{login}", login, "other", None).id
    access.create_role(SETUP, login, login, permissions)
    op = access.create_operator(SETUP, login, login, dept, None, None, PASSWORD).id
    result = access.grant_roles(SETUP, op, [login])
    container.progress.wait_for(list(container.runners), result.position, 10)
    token = ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": PASSWORD}))["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_dead_letters_are_listed_paged_and_sent_again(client, live_container, auth):
    t0 = datetime.now(timezone.utc) - timedelta(hours=1)
    rows = {name: enqueue(live_container, "operator:nobody", channel, status=status, attempts=attempts,
                          created_at=t0 + timedelta(minutes=i))
            for i, (name, channel, status, attempts) in enumerate([
                ("dead_sms", "sms", "dead", 8), ("doubt_mail", "email", "in_doubt", 1),
                ("sent_sms", "sms", "sent", 1), ("dead_oa", "oa", "dead", 8)])}

    listed = ok(client.get(URL, headers=auth))
    assert [d["key"] for d in listed["items"]] == [rows["dead_oa"], rows["doubt_mail"], rows["dead_sms"]]
    assert listed["next_cursor"] is None
    pages, cursor = [], None
    while True:
        page = ok(client.get(URL, params={"limit": 1, **({"cursor": cursor} if cursor else {})}, headers=auth))
        pages += [d["key"] for d in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert pages == [d["key"] for d in listed["items"]]
    sms = ok(client.get(URL, params={"channel": "sms", "status": ["sent", "dead"]}, headers=auth))
    assert [d["key"] for d in sms["items"]] == [rows["sent_sms"], rows["dead_sms"]]
    assert client.get(URL, params={"channel": "fax"}, headers=auth).status_code == 422
    assert client.get(URL, params={"cursor": "bm9wZQ"}, headers=auth).status_code == 400
    counts = {(c["channel"], c["status"]): c["count"] for c in ok(client.get(f"{URL}/counts", headers=auth))}
    assert counts[("sms", "dead")] == 1 and counts[("oa", "dead")] == 1

    one = ok(client.get(f"{URL}/{rows['doubt_mail']}", headers=auth))
    assert (one["status"], one["channel"], one["recipient"]) == ("in_doubt", "email", "operator:nobody")
    assert client.get(f"{URL}/nope", headers=auth).status_code == 404

    retried = ok(client.post(f"{URL}/{rows['dead_sms']}/retry", headers=auth))
    assert (retried["status"], retried["attempts"]) == ("pending", 0)
    refused = client.post(f"{URL}/{rows['sent_sms']}/retry", headers=auth)
    assert refused.status_code == 409 and refused.json()["code"] == "conflict"
    assert client.post(f"{URL}/nope/retry", headers=auth).status_code == 404


def test_the_list_and_retries_each_need_their_permission(client, live_container):
    key = enqueue(live_container, "operator:nobody", "sms", status="dead", attempts=8)
    viewer = _login(client, live_container, "viewer", ["notifications.deliveries.view"])
    nobody = _login(client, live_container, "clerk", ["access.departments.view"])

    assert [d["key"] for d in ok(client.get(URL, headers=viewer))["items"]] == [key]
    assert client.post(f"{URL}/{key}/retry", headers=viewer).status_code == 403
    assert client.get(URL, headers=nobody).status_code == 403
    assert client.get(f"{URL}/{key}", headers=nobody).status_code == 403
