"""Seed 004's tenant signing on the demo as shipped — no grants, no republishing: SALES starts with
only the business terms; OPS, CLEARING and FINANCE each enter their section (refused while it is
empty) and a second person of the department reviews it; returns to OPS entry, to SALES (rate
beyond authority) and to FINANCE entry; the tenant signs and the signing is in force. And what every
demo login finds: the firm calendar, and notifications in their in-app list (站内信)."""
from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from interfaces.api.app import create_app
from interfaces.demo import DEMO_PASSWORD, OPERATORS, load_demo
from interfaces.demo_leads import MANAGERS
from tests.engines import running_container

BUSINESS_TERMS = {"commercial": {"products": ["VCC"], "term_months": 12}}
BASIC = {"tenant_name_cn": "甲公司", "uscc": "91350100M000100Y43", "contact_name": "王",
         "contact_phone": "13812345678"}
RATES = {"fee_items": [{"id": "r1", "product": "VCC", "item": "交易手续费", "percent": 0.3}]}
SETTLEMENT = {"bank_name": "招商银行", "bank_account": "6222021234567890128", "settlement_cycle": "T+1"}
PEOPLE = ("wang.fang", "zhao.lei", "sun.li", "zhou.qiang", "huang.jie", "wu.min", "zheng.hao", "qian.yu", "admin",
          "ma.chao")


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def demo_container(engines, tmp_path_factory):
    if engines.mode != "embedded":  # the demo's behaviour does not depend on the engine mode
        pytest.skip("the demo runs on the embedded engines only")
    with running_container(engines, tmp_path_factory.mktemp("demo"), workers=True) as container:
        load_demo(container)
        assert container.progress.wait_for(list(container.runners), container.store.head(), 120)
        yield container


@pytest.fixture(scope="module")
def demo(demo_container):
    client = TestClient(create_app(demo_container))
    tokens = {who: {"Authorization": "Bearer " + ok(client.post("/api/v1/auth/login", json={
        "login_name": who, "password": DEMO_PASSWORD}))["access_token"]} for who in PEOPLE}
    return client, tokens


class Signing:
    def __init__(self, client: TestClient, tokens: dict, instance: str, position: int):
        self.client, self.tokens, self.id, self.position = client, tokens, instance, position

    def task(self, who: str) -> dict:
        todo = ok(self.client.get("/api/v1/flows/todo", headers=self.tokens[who],
                                  params={"wait_for_position": self.position}))
        mine = [t for t in todo["items"] if t["instance_id"] == self.id]
        assert len(mine) == 1, (who, todo)
        return mine[0]

    def has_no_task(self, who: str) -> bool:
        todo = ok(self.client.get("/api/v1/flows/todo", headers=self.tokens[who],
                                  params={"wait_for_position": self.position}))
        return all(t["instance_id"] != self.id for t in todo["items"])

    def act(self, who: str, action: str, body: dict | None = None, node: str | None = None, status: int = 200):
        task = self.task(who)
        if node:
            assert task["node"] == node, task
        r = self.client.post(f"/api/v1/flows/instances/{self.id}/tasks/{task['task_id']}/{action}",
                             json=body or {}, headers=self.tokens[who])
        if status != 200:
            assert r.status_code == status, r.text
            return r.json()
        self.position = ok(r)["position"]
        return None

    def fill(self, who: str, section: str, value: dict) -> None:
        task = self.task(who)
        current = ok(self.client.get(f"/api/v1/flows/instances/{self.id}", headers=self.tokens[who]))["data"]
        self.position = ok(self.client.put(f"/api/v1/flows/instances/{self.id}/tasks/{task['task_id']}/form",
                                           json={"data": {**current, section: value}},
                                           headers=self.tokens[who]))["position"]

    def wait_for(self, who: str, holds, seconds: float = 60.0) -> dict:
        """The instance once ``holds(detail)``: the scheduler runs system work in the background."""
        deadline = time.monotonic() + seconds
        while True:
            detail = ok(self.client.get(f"/api/v1/flows/instances/{self.id}", headers=self.tokens[who]))
            if holds(detail) or time.monotonic() > deadline:
                assert holds(detail), detail
                return detail
            time.sleep(0.2)

    def detail(self, who: str) -> dict:
        return ok(self.client.get(f"/api/v1/flows/instances/{self.id}", headers=self.tokens[who],
                                  params={"wait_for_position": self.position}))


def test_the_demo_tenant_signing_runs_with_segregated_reviews_and_three_returns(demo):
    client, t = demo
    refused = client.post("/api/v1/flows/instances", headers=t["wang.fang"], json={
        "definition": "tenant_signing", "subject": "institution", "title": "甲公司签约",
        "data": {**BUSINESS_TERMS, "basic": BASIC}})
    assert refused.status_code == 403 and refused.json()["field"] == "basic"  # OPS' section, not SALES'
    started = ok(client.post("/api/v1/flows/instances", headers=t["wang.fang"], json={
        "definition": "tenant_signing", "subject": "institution", "title": "甲公司签约",
        "data": BUSINESS_TERMS}), 201)
    s = Signing(client, t, started["id"], started["position"])
    # OA 摘要 on the rows: SALES sees its business terms; OPS does not (the field rule hides them).
    mine = ok(client.get("/api/v1/flows/initiated", headers=t["wang.fang"],
                         params={"wait_for_position": s.position}))["items"]
    assert next(i for i in mine if i["id"] == s.id)["summary"] == {"commercial.term_months": 12}
    assert s.task("zhao.lei")["summary"] == {}

    # OPS: an entry is refused while its section is empty; the business terms are hidden from OPS.
    missing = s.act("zhao.lei", "approve", node="ops_entry", status=422)
    assert missing["code"] == "required_fields_missing"
    assert "commercial" not in s.detail("zhao.lei")["data"]
    s.fill("zhao.lei", "basic", BASIC)
    s.act("zhao.lei", "approve", node="ops_entry")
    assert s.has_no_task("zhao.lei")  # who entered does not review
    s.act("sun.li", "return", {"target": "ops_entry", "comment": "营业执照不清晰"}, node="ops_review")
    s.act("zhao.lei", "approve", node="ops_entry")
    s.act("sun.li", "approve", node="ops_review")

    # CLEARING: the review sends it back to SALES, beyond the rate authority; SALES resubmits.
    s.fill("zhou.qiang", "rates", RATES)
    s.act("zhou.qiang", "approve", node="clearing_entry")
    assert s.has_no_task("zhou.qiang")
    s.act("huang.jie", "return", {"target": "start", "comment": "费率超出授权范围",
                                  "reason_code": "RATE_BEYOND_AUTHORITY"}, node="clearing_review")
    assert s.task("wang.fang")["node"] == "start"  # the returned signing is in SALES' todo
    s.position = ok(client.post(f"/api/v1/flows/instances/{s.id}/resubmit", json={},
                                headers=t["wang.fang"]))["position"]
    for who, node in [("zhao.lei", "ops_entry"), ("sun.li", "ops_review"), ("zhou.qiang", "clearing_entry"),
                      ("huang.jie", "clearing_review")]:
        s.act(who, "approve", node=node)

    # FINANCE: settlement required, masked for everyone but FINANCE; FINANCE review returns once.
    assert s.act("wu.min", "approve", node="finance_entry", status=422)["code"] == "required_fields_missing"
    s.fill("wu.min", "settlement", SETTLEMENT)
    assert s.detail("wu.min")["data"]["settlement"]["bank_account"] == "6222021234567890128"
    assert s.detail("zhao.lei")["data"]["settlement"]["bank_account"] == "6222****0128"
    s.act("wu.min", "approve", node="finance_entry")
    assert s.has_no_task("wu.min")
    s.act("zheng.hao", "return", {"target": "finance_entry", "comment": "结算周期待确认"}, node="finance_review")
    s.act("wu.min", "approve", node="finance_entry")
    s.act("zheng.hao", "approve", node="finance_review")

    # 生成协议 → 租户签署 (004 §6): the agreement is generated from the form and the tenant asked to
    # sign (the scheduler runs both); SALES sends the tenant a link; the tenant signs without an
    # account; the seal is applied and the signing is in force.
    waiting = s.wait_for("wang.fang", lambda d: any(
        t["node"] == "tenant_sign" and t["status"] == "waiting" for t in d["system_tasks"]))
    generated, asked = waiting["system_tasks"]
    assert (generated["node"], generated["status"], asked["hook"]) == ("generate_contract", "done", "e_sign")
    assert "link" not in asked["result"]  # the link is never recorded where staff can read it
    link = ok(client.post(f"/api/v1/signatures/requests/{asked['result']['signing_request_id']}/link",
                          json={"reason": "发给租户 sent to the tenant"}, headers=t["wang.fang"]))
    shown = ok(client.get(link["link"]))  # public: no login
    assert client.get(link["link"] + "/document").content.startswith(b"%PDF")
    signed = ok(client.post(link["link"], json={"signer_name": "王", "consent": True,
                                                "consent_version": shown["consent_version"]}))
    assert signed["status"] == "sealed"
    detail = s.wait_for("wang.fang", lambda d: d["status"] != "running")
    assert detail["status"] == "completed"
    sealed = next(e for e in detail["system_tasks"] if e["node"] == "tenant_sign")["result"]
    verified = ok(client.get(f"/api/v1/signatures/documents/{sealed['signed_document_id']}/verification",
                             headers=t["qian.yu"]))
    assert verified["valid"] and verified["sha256"] == sealed["sha256"], verified
    approvals = {(e["node"], e["actor"]) for e in detail["timeline"] if e["kind"] == "approved"}
    entries = {"ops_entry": "ops_review", "clearing_entry": "clearing_review", "finance_entry": "finance_review"}
    for entry, review in entries.items():
        entered = {actor for node, actor in approvals if node == entry}
        reviewed = {actor for node, actor in approvals if node == review}
        assert entered and reviewed and not entered & reviewed, (entry, entered, reviewed)
    # The auditor reads the instance and its trail.
    assert s.detail("qian.yu")["status"] == "completed"
    assert client.get(f"/api/v1/audit/aggregates/{s.id}/trail", headers=t["qian.yu"]).status_code == 200


def test_an_administrators_override_of_a_demo_signing_waits_for_the_flow_administrator(demo):
    client, t = demo
    started = ok(client.post("/api/v1/flows/instances", headers=t["wang.fang"], json={
        "definition": "tenant_signing", "subject": "institution", "title": "乙公司签约",
        "data": BUSINESS_TERMS}), 201)
    path = f"/api/v1/flows/instances/{started['id']}"
    asked = ok(client.post(f"{path}/jump", headers=t["admin"], json={"target": "ops_review",
                                                                      "reason": "资料已线下核对"}), 202)
    assert asked["status"] == "pending"
    pending = ok(client.get("/api/v1/flows/overrides", headers=t["ma.chao"],
                            params={"wait_for_position": asked["position"]}))["items"]
    assert [o["instance_id"] for o in pending] == [started["id"]]
    done = ok(client.post(f"{path}/overrides/{asked['override_id']}/approve", headers=t["ma.chao"]))
    detail = ok(client.get(path, headers=t["qian.yu"], params={"wait_for_position": done["position"]}))
    assert detail["current_nodes"] == ["ops_review"]


def test_every_demo_login_reads_the_firm_calendar_with_the_2026_spring_festival(demo):
    client, tokens = demo
    for who in PEOPLE:
        days = ok(client.get("/api/v1/calendar/days", params={"start": "2026-02-14", "end": "2026-02-15"},
                             headers=tokens[who]))
        assert [d["kind"] for d in days["items"]] == ["workday", "holiday"], who


def test_every_demo_operator_finds_notifications_in_their_in_app_list(demo, demo_container):
    client, _ = demo
    kinds = {}
    for login in [login for login, *_ in OPERATORS] + [login for login, _ in MANAGERS]:
        rows = demo_container.notification_queries.page(f"operator:{login}", limit=200)
        kinds[login] = sorted({n["kind"] for n in rows})
    assert [login for login, found in kinds.items() if not found] == [], kinds
    # The demo's businesses under way give tasks, copies and an approval; its leads, their owners.
    # (Other tests here may have walked a signing on: these are there whatever they did.)
    assert "task_arrived" in kinds["zhao.lei"] and "task_arrived" in kinds["admin"]
    assert "copied" in kinds["qian.yu"] and "instance_approved" in kinds["chen.jing"]
    assert {"lead_assigned", "lead_account_opened"} <= set(kinds["feng.sizhao"])
    for login, *_ in OPERATORS:  # and each sees them over HTTP
        token = ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": DEMO_PASSWORD}))
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert ok(client.get("/api/v1/notifications", headers=headers))["items"], login
        assert ok(client.get("/api/v1/notifications/unread-count", headers=headers))["unread"] > 0, login


def test_the_demo_expense_claims_show_the_flow_rules_at_work(demo_container):
    client = TestClient(create_app(demo_container))
    login = {who: {"Authorization": "Bearer " + ok(client.post("/api/v1/auth/login", json={
        "login_name": who, "password": DEMO_PASSWORD}))["access_token"]} for who in ("xu.ming", "zheng.hao", "wu.min")}
    todo = ok(client.get("/api/v1/flows/todo", headers=login["xu.ming"]))["items"]
    (claim,) = [t for t in todo if t["title"] == "王芳北京出差报销"]
    # xu.ming's own travel claim under 5,000 was approved by rule: FINANCE has it, he does not.
    finance = ok(client.get("/api/v1/flows/todo", headers=login["wu.min"]))["items"]
    (own,) = [t for t in finance if t["title"] == "徐明杭州差旅报销"]
    timeline = ok(client.get(f"/api/v1/flows/instances/{own['instance_id']}/timeline",
                             headers=login["xu.ming"]))["items"]
    assert [e["actor"] for e in timeline if e["kind"] in ("rule_fired", "auto_approved")] == ["system:rules"] * 2
    # He approves wang.fang's claim from the north: a rule routes it to zheng.hao alone.
    done = ok(client.post(f"/api/v1/flows/instances/{claim['instance_id']}/tasks/{claim['task_id']}/approve",
                          json={"comment": "同意"}, headers=login["xu.ming"]), 200)
    routed = ok(client.get("/api/v1/flows/todo", headers=login["zheng.hao"],
                           params={"wait_for_position": done["position"]}))["items"]
    assert [t["title"] for t in routed if t["instance_id"] == claim["instance_id"]] == ["王芳北京出差报销"]
    others = ok(client.get("/api/v1/flows/todo", headers=login["wu.min"],
                           params={"wait_for_position": done["position"]}))["items"]
    assert claim["instance_id"] not in [t["instance_id"] for t in others]


def test_the_demo_flow_administrator_opens_the_management_cockpit(demo_container):
    client = TestClient(create_app(demo_container))
    token = ok(client.post("/api/v1/auth/login", json={"login_name": "ma.chao", "password": DEMO_PASSWORD}))
    cockpit = ok(client.post("/api/v1/flows/cockpits/management/run",
                             headers={"Authorization": f"Bearer {token['access_token']}"}))
    assert [b["key"] for b in cockpit["boards"]] == ["hot_businesses", "slow_nodes", "first_pass_by_month",
                                                      "handler_ranking"]
    hot = cockpit["boards"][0]["result"]
    assert {r["business_type"] for r in hot["rows"]} >= {"tenant_signing", "expense_claim"}
