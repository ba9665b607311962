"""What a rule administrator can see and undo: a 渠道1.0 binding removed (recorded, firm-wide
scope only) lets the phone in again; the blacklist is listed page by page."""
from __future__ import annotations

from tests.e2e.test_leads_api import ADMIN, firm, ok  # noqa: F401 - the firm fixture
from tests.e2e.test_leads_boundary import _scoped_operator


def test_a_removed_binding_is_recorded_and_lets_the_phone_in_again(client, live_container, firm):  # noqa: F811
    intake = {"X-Channel-Token": firm["token"]}
    ok(client.post("/api/v1/leads/bindings", headers=ADMIN, json={"rows": [
        {"phone": "13812340007", "kind": "ib", "holder": "IB-7", "bound_at": "2020-01-01T00:00:00+08:00"}]}))
    first = ok(client.post("/api/v1/leads/intake", headers=intake, json={"leads": [{"phone": "13812340007"}]}))
    assert first["results"][0]["reason"] == "bound:ib"
    scoped = _scoped_operator(client, live_container, firm, "rita", ["leads.rules.manage"])
    path = "/api/v1/leads/bindings/13812340007/unbind"
    assert client.post(path, headers=scoped, json={"reason": "x"}).status_code == 403  # bindings are firm-wide
    removed = ok(client.post(path, headers=ADMIN, json={"reason": "客户解除绑定"}))
    assert removed["version"] == 2
    again = client.post(path, headers=ADMIN, json={"reason": "twice"})
    assert again.status_code == 422 and again.json()["field"] == "phone"
    never = client.post("/api/v1/leads/bindings/13812340009/unbind", headers=ADMIN, json={"reason": "x"})
    assert never.status_code == 404 and never.json()["field"] == "phone"
    bad = client.post("/api/v1/leads/bindings/12345/unbind", headers=ADMIN, json={"reason": "x"})
    assert bad.status_code == 422 and bad.json()["field"] == "phone"
    later = ok(client.post("/api/v1/leads/intake", headers=intake, json={"leads": [{"phone": "13812340007"}]}))
    assert later["results"][0]["status"] == "valid"


def test_the_blacklist_is_listed_page_by_page(client, live_container, firm):  # noqa: F811
    phones = [f"1390000{i:04d}" for i in range(7)]
    ok(client.post("/api/v1/leads/settings/brokerage/blacklist", headers=ADMIN,
                   json={"add": phones, "reason": "complaints"}))
    seen, cursor = [], None
    while True:
        page = ok(client.get("/api/v1/leads/settings/brokerage/blacklist", headers=ADMIN,
                             params={"limit": 3, **({"cursor": cursor} if cursor else {})}))
        seen += [item["phone"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [f"+86{p}" for p in phones]
    bad = client.get("/api/v1/leads/settings/brokerage/blacklist", headers=ADMIN, params={"cursor": "garbage"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
    missing = client.get("/api/v1/leads/settings/no_such_line/blacklist", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["field"] == "business_line"
    viewer = _scoped_operator(client, live_container, firm, "vera", ["leads.view"])
    assert client.get("/api/v1/leads/settings/brokerage/blacklist", headers=viewer).status_code == 403
