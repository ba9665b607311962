"""Access control, table-driven: business lines, jurisdiction (with and without
sub-departments), explicit investor accounts, field rules in lists, details, exports and
trails, and credentials that stop working at once. Invisible records answer 404 exactly like
missing ones; visible records the caller may not act on answer 403 (ADR 0006)."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from application.access.policy import Policy
from domain.shared.ids import natural_id
from interfaces.api.app import create_app
from tests.engines import ADMIN_HEADERS as ADMIN
from tests.engines import running_container

PASSWORD = "Correct-Horse-42"
VIEW = ["access.departments.view", "access.operators.view"]


def ok(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else r


@pytest.fixture(scope="module")
def access_firm(engines, tmp_path_factory):
    """A small firm, built through the API as an administrator would."""
    with running_container(engines, tmp_path_factory.mktemp("firm"), workers=True) as container:
        client = TestClient(create_app(container))
        dept = {}
        for code, parent in [("HQ", None), ("SH", "HQ"), ("SHS1", "SH"), ("BJ", "HQ"), ("FIN", "HQ")]:
            body = {"code": code, "name": code, "kind": "branch" if code != "HQ" else "head_office",
                    "parent_id": dept.get(parent)}
            dept[code] = ok(client.post("/api/v1/access/departments", json=body, headers=ADMIN), 201)["id"]
        for code in ("brokerage", "ib"):
            ok(client.post("/api/v1/access/business-lines", json={"code": code, "name": code}, headers=ADMIN), 201)
        roles = {
            "viewer": VIEW, "exporter": VIEW + ["access.operators.export"], "auditor": VIEW + ["audit.view"],
            "manager": VIEW + ["access.operators.manage"],
            "finance": VIEW + ["access.operators.export", "audit.view"],
            "tokens": VIEW + ["access.api_tokens.manage"],
        }
        for key, perms in roles.items():
            ok(client.post("/api/v1/access/roles", json={"key": key, "name": key, "permissions": perms},
                           headers=ADMIN), 201)
        people = {  # login: (department, roles, lines, jurisdiction [(dept, with children)], accounts)
            "alice": ("SH", ["viewer", "exporter", "auditor"], ["brokerage"], [("SH", True)], []),
            "bob": ("SH", ["viewer", "auditor"], ["brokerage"], [("SH", False)], []),
            "carol": ("BJ", ["viewer"], ["brokerage", "ib"], [("BJ", True)], ["88001234"]),
            "dave": ("FIN", ["finance"], ["brokerage", "ib"], [("HQ", True)], []),
            "erin": ("SHS1", ["manager"], ["brokerage"], [("SHS1", True)], []),
            "frank": ("SH", ["tokens"], ["brokerage"], [("SH", True)], []),
            "target_sh": ("SH", [], [], [], []), "target_shs1": ("SHS1", [], [], [], []),
            "target_bj": ("BJ", [], [], [], []), "target_fin": ("FIN", [], [], [], []),
        }
        ids = {}
        for login, (department, granted, lines, scope, accounts) in people.items():
            ids[login] = ok(client.post("/api/v1/access/operators", headers=ADMIN, json={
                "login_name": login.replace("_", "-"), "display_name": login.title(), "department_id": dept[department],
                "phone": "13812345678", "email": f"{login}@firm.cn", "password": PASSWORD}), 201)["id"]
            if granted:
                ok(client.post(f"/api/v1/access/operators/{ids[login]}/roles", json={"roles": granted}, headers=ADMIN))
            ok(client.put(f"/api/v1/access/operators/{ids[login]}/business-lines", json={"business_lines": lines},
                          headers=ADMIN))
            ok(client.put(f"/api/v1/access/operators/{ids[login]}/data-scope", headers=ADMIN, json={
                "jurisdiction": [{"department_id": dept[d], "include_children": c} for d, c in scope],
                "investor_accounts": accounts}))
        for rule in (
            {"resource": "access.operator", "field": "phone", "effect": "masked", "mask": "phone",
             "exempt_roles": ["finance", "manager"]},
            {"resource": "access.operator", "field": "email", "effect": "hidden", "exempt_roles": ["finance"]},
            {"resource": "access.operator", "field": "display_name", "effect": "read_only",
             "applies_to_roles": ["manager"]},
        ):
            ok(client.post("/api/v1/access/field-rules", json=rule, headers=ADMIN), 201)
        tokens = {}
        for login in ("alice", "bob", "carol", "dave", "erin", "frank"):
            tokens[login] = ok(client.post("/api/v1/auth/login",
                                           json={"login_name": login, "password": PASSWORD}))["access_token"]
        yield {"client": client, "container": container, "dept": dept, "ids": ids, "tokens": tokens}


def as_(access_firm: dict, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_firm['tokens'][who]}"}


@dataclass
class Case:
    name: str
    who: str
    method: str
    path: str                    # may name {ids.x} / {dept.X}
    status: int
    check: Callable[[Any, dict], None] | None = None
    body: dict | None = None

    def url(self, access_firm: dict) -> str:
        return self.path.format(ids=type("I", (), access_firm["ids"]), dept=type("D", (), access_firm["dept"]))


def logins(r, access_firm):
    return sorted(o["login_name"] for o in r.json()["items"])


def masked_no_email(r, access_firm):
    body = r.json()
    assert body["phone"] == "138****5678" and "email" not in body


def clear(r, access_firm):
    body = r.json()
    assert body["phone"] == "13812345678" and body["email"].endswith("@firm.cn")


def csv_rows(r):
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


def trail_masked(r, access_firm):
    created = r.json()["items"][0]
    assert created["data"]["phone"] == "138****5678" and "email" not in created["data"]
    assert created["changes"]["phone"]["new"] == "138****5678" and "email" not in created["changes"]
    assert "password_hash" not in str(r.json())


def trail_clear(r, access_firm):
    created = r.json()["items"][0]
    assert created["data"]["phone"] == "13812345678" and created["data"]["email"] == "target_sh@firm.cn"
    assert "password_hash" not in str(r.json())


CASES = [
    # jurisdiction with sub-departments (alice: SH and below)
    Case("with children: own department", "alice", "GET", "/api/v1/access/operators/{ids.target_sh}", 200),
    Case("with children: sub-department", "alice", "GET", "/api/v1/access/operators/{ids.target_shs1}", 200),
    Case("with children: other branch is invisible", "alice", "GET", "/api/v1/access/operators/{ids.target_bj}", 404),
    Case("with children: list", "alice", "GET", "/api/v1/access/operators", 200,
         lambda r, f: logins(r, f) == ["alice", "bob", "erin", "frank", "target-sh", "target-shs1"] or
         pytest.fail(logins(r, f))),
    # jurisdiction without sub-departments (bob: SH only)
    Case("without children: own department", "bob", "GET", "/api/v1/access/operators/{ids.target_sh}", 200),
    Case("without children: sub-department invisible", "bob", "GET",
         "/api/v1/access/operators/{ids.target_shs1}", 404),
    Case("without children: list", "bob", "GET", "/api/v1/access/operators", 200,
         lambda r, f: logins(r, f) == ["alice", "bob", "frank", "target-sh"] or pytest.fail(logins(r, f))),
    Case("without children: departments list", "bob", "GET", "/api/v1/access/departments", 200,
         lambda r, f: [d["code"] for d in r.json()["items"]] == ["SH"] or pytest.fail(r.text)),
    # the whole tree (dave: HQ and below)
    Case("head office scope sees every branch", "dave", "GET", "/api/v1/access/operators/{ids.target_bj}", 200),
    Case("head office scope lists all", "dave", "GET", "/api/v1/access/operators?limit=200", 200,
         lambda r, f: len(r.json()["items"]) == 10 or pytest.fail(logins(r, f))),
    Case("carol sees only Beijing departments", "carol", "GET", "/api/v1/access/departments", 200,
         lambda r, f: [d["code"] for d in r.json()["items"]] == ["BJ"] or pytest.fail(r.text)),
    # field rules in details, lists, exports and trails
    Case("detail: phone masked, email hidden", "alice", "GET", "/api/v1/access/operators/{ids.target_sh}", 200,
         masked_no_email),
    Case("detail: finance sees both", "dave", "GET", "/api/v1/access/operators/{ids.target_sh}", 200, clear),
    Case("list: every phone masked, no emails", "alice", "GET", "/api/v1/access/operators", 200,
         lambda r, f: all(o["phone"] == "138****5678" and "email" not in o for o in r.json()["items"])
         or pytest.fail(r.text)),
    Case("export: masked for alice", "alice", "GET", "/api/v1/access/operators/export", 200,
         lambda r, f: all(row["phone"] == "138****5678" and row["email"] == "" for row in csv_rows(r))
         or pytest.fail(r.text)),
    Case("export: clear for finance", "dave", "GET", "/api/v1/access/operators/export", 200,
         lambda r, f: {row["email"] for row in csv_rows(r)} >= {"target_bj@firm.cn"} or pytest.fail(r.text)),
    Case("export needs the export permission", "bob", "GET", "/api/v1/access/operators/export", 403),
    Case("trail: masked for alice", "alice", "GET", "/api/v1/audit/aggregates/{ids.target_sh}/trail", 200,
         trail_masked),
    Case("trail: clear for finance", "dave", "GET", "/api/v1/audit/aggregates/{ids.target_sh}/trail", 200,
         trail_clear),
    Case("trail outside the scope is invisible", "alice", "GET",
         "/api/v1/audit/aggregates/{ids.target_bj}/trail", 404),
    Case("past state: masked too", "alice", "GET", "/api/v1/audit/aggregates/{ids.target_sh}/state", 200,
         lambda r, f: (r.json()["state"]["phone"] == "138****5678" and "email" not in r.json()["state"]
                       and "password_hash" not in r.json()["state"]) or pytest.fail(r.text)),
    Case("trail needs audit.view", "carol", "GET", "/api/v1/audit/aggregates/{ids.target_bj}/trail", 403),
    # writes: invisible = 404, visible without permission = 403, read-only fields = 403
    Case("write to an invisible record is 404", "erin", "POST", "/api/v1/access/operators/{ids.target_bj}/disable",
         404, body={"reason": "x"}),
    Case("write without the permission is 403 (decided before any lookup)", "carol", "POST",
         "/api/v1/access/operators/{ids.target_sh}/disable", 403, body={"reason": "x"}),
    Case("write without permission on a visible record is 403", "carol", "POST",
         "/api/v1/access/operators/{ids.target_bj}/disable", 403, body={"reason": "x"}),
    Case("read-only field for managers", "erin", "PATCH", "/api/v1/access/operators/{ids.target_shs1}", 403,
         lambda r, f: r.json()["field"] == "display_name" or pytest.fail(r.text),
         body={"display_name": "Renamed", "department_id": "{dept.SHS1}", "phone": "13812345678"}),
    Case("editable field for managers", "erin", "PATCH", "/api/v1/access/operators/{ids.target_shs1}", 200,
         body={"phone": "13900001111"}),
    Case("manager cannot move someone out of their scope", "erin", "PATCH",
         "/api/v1/access/operators/{ids.target_shs1}", 404, body={"department_id": "{dept.BJ}"}),
    # business lines
    Case("lines: a broker sees only brokerage", "alice", "GET", "/api/v1/access/business-lines", 200,
         lambda r, f: [x["code"] for x in r.json()] == ["brokerage"] or pytest.fail(r.text)),
    Case("lines: two-line operator sees both", "carol", "GET", "/api/v1/access/business-lines", 200,
         lambda r, f: [x["code"] for x in r.json()] == ["brokerage", "ib"] or pytest.fail(r.text)),
    Case("lines: cannot issue a token for a line one lacks", "frank", "POST", "/api/v1/access/api-tokens", 403,
         body={"name": "ib-feed", "business_lines": ["ib"]}),
    Case("lines: may issue within one's own line", "frank", "POST", "/api/v1/access/api-tokens", 201,
         body={"name": "sh-feed", "business_lines": ["brokerage"], "permissions": ["access.operators.view"]}),
    # me
    Case("me: menus follow permissions", "alice", "GET", "/api/v1/me", 200,
         lambda r, f: ({m["key"] for m in r.json()["menus"]} == {"access", "audit"} and
                       "access.operators.manage" not in r.json()["permissions"]) or pytest.fail(r.text)),
]


def _fill(value: Any, access_firm: dict) -> Any:
    if isinstance(value, str):
        return value.format(ids=type("I", (), access_firm["ids"]), dept=type("D", (), access_firm["dept"]))
    if isinstance(value, dict):
        return {k: _fill(v, access_firm) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_permission(access_firm, case: Case):
    headers = as_(access_firm, case.who)
    if case.method in ("PATCH", "PUT"):
        target = case.url(access_firm)
        headers["If-Match"] = access_firm["client"].get(target, headers=ADMIN).headers.get("etag", '"0"')
    r = access_firm["client"].request(case.method, case.url(access_firm), headers=headers, json=_fill(case.body, access_firm))
    assert r.status_code == case.status, (case.name, r.status_code, r.text)
    if case.check:
        case.check(r, access_firm)


# -- the policy itself, for records that carry a business line and an investor account ----------
def _policy(access_firm: dict, who: str) -> Policy:
    container = access_firm["container"]
    return Policy(container.principals.resolve(access_firm["tokens"][who]), container.access_queries.field_rules)


@pytest.mark.parametrize("who,record,visible", [
    ("alice", {"business_line": "brokerage", "department_id": "SH"}, True),
    ("alice", {"business_line": "ib", "department_id": "SH"}, False),           # other line
    ("alice", {"business_line": "brokerage", "department_id": "BJ"}, False),    # other branch
    ("carol", {"business_line": "ib", "department_id": "BJ"}, True),
    ("carol", {"business_line": "brokerage", "department_id": "SH", "investor_account": "88001234"}, True),
    ("carol", {"business_line": "brokerage", "department_id": "SH", "investor_account": "88009999"}, False),
    ("bob", {"business_line": "brokerage", "department_id": "SHS1"}, False),    # no sub-departments
    ("dave", {"business_line": "ib", "department_id": "SHS1"}, True),
])
def test_policy_decides_visibility_of_line_and_account_records(access_firm, who, record, visible):
    record = dict(record, department_id=__import__("uuid").UUID(access_firm["dept"][record["department_id"]]))
    assert _policy(access_firm, who).sees(**record) is visible


# -- credentials that must stop working at once ------------------------------------------------------
def test_a_disabled_operators_token_fails_on_the_next_request(access_firm):
    client, ids = access_firm["client"], access_firm["ids"]
    token = ok(client.post("/api/v1/auth/login", json={"login_name": "target-bj", "password": PASSWORD}))
    me = {"Authorization": f"Bearer {token['access_token']}"}
    ok(client.get("/api/v1/me", headers=me))
    ok(client.post(f"/api/v1/access/operators/{ids['target_bj']}/disable", json={"reason": "left"}, headers=ADMIN))
    r = client.get("/api/v1/me", headers=me)
    assert r.status_code == 401 and r.json()["code"] == "account_disabled"
    refreshed = client.post("/api/v1/auth/refresh", json={"session_id": token["session_id"],
                                                          "refresh_token": token["refresh_token"]})
    assert refreshed.status_code == 401
    ok(client.post(f"/api/v1/access/operators/{ids['target_bj']}/enable", headers=ADMIN))


def test_a_revoked_api_token_fails_on_the_next_request(access_firm):
    client = access_firm["client"]
    issued = ok(client.post("/api/v1/access/api-tokens", headers=ADMIN, json={
        "name": "cloud-sync", "permissions": ["access.departments.view"], "business_lines": ["brokerage"]}), 201)
    system = {"Authorization": f"Bearer {issued['token']}"}
    assert ok(client.get("/api/v1/me", headers=system))["kind"] == "api_token"
    listed = ok(client.get("/api/v1/access/api-tokens", headers=ADMIN))
    assert issued["token"] not in str(listed)  # shown once, stored hashed
    ok(client.delete(f"/api/v1/access/api-tokens/{issued['id']}", headers=ADMIN))
    r = client.get("/api/v1/me", headers=system)
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


def test_logout_and_refresh(access_firm):
    client = access_firm["client"]
    t = ok(client.post("/api/v1/auth/login", json={"login_name": "target-fin", "password": PASSWORD}))
    new = ok(client.post("/api/v1/auth/refresh", json={"session_id": t["session_id"], "refresh_token": t["refresh_token"]}))
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {t['access_token']}"}).status_code == 401
    fresh = {"Authorization": f"Bearer {new['access_token']}"}
    ok(client.get("/api/v1/me", headers=fresh))
    assert client.post("/api/v1/auth/logout", headers=fresh).status_code == 204
    assert client.get("/api/v1/me", headers=fresh).status_code == 401


@pytest.mark.parametrize("header", ["Bearer lfa_not-a-real-token", "Bearer lft_" + "x" * 43, "Bearer lfa_ has spaces",
                                    "Bearer " + "a" * 300, "Token abc", "Bearer"])
def test_malformed_tokens_are_401(access_firm, header):
    r = access_firm["client"].get("/api/v1/me", headers={"Authorization": header})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_every_permission_change_is_in_the_audit_trail(access_firm):
    client, ids = access_firm["client"], access_firm["ids"]
    trail = ok(client.get(f"/api/v1/audit/aggregates/{ids['alice']}/trail", headers=ADMIN))["items"]
    granted = next(e for e in trail if e["event_type"] == "RolesGranted")
    assert granted["actor"] == "admin:bootstrap" and granted["data"]["roles"] == ["auditor", "exporter", "viewer"]
    lines = next(e for e in trail if e["event_type"] == "BusinessLinesSet")
    assert lines["changes"]["business_lines"] == {"old": [], "new": ["brokerage"]}
    scope = next(e for e in trail if e["event_type"] == "DataScopeSet")
    assert scope["data"]["jurisdiction"] == [{"department_id": access_firm["dept"]["SH"], "include_children": True}]
    login = next(e for e in trail if e["event_type"] == "Created")
    assert login["aggregate_type"] == "Operator"
    assert natural_id("operator", "alice") == __import__("uuid").UUID(ids["alice"])


def test_nul_characters_are_refused_before_anything_is_stored(access_firm):
    client, container = access_firm["client"], access_firm["container"]
    head = container.store.head()
    r = client.patch(f"/api/v1/access/operators/{access_firm['ids']['target_sh']}", json={"display_name": "a\u0000b"},
                     headers=ADMIN)
    assert r.status_code == 422 and r.json()["code"] == "nul_character", r.text
    assert client.get("/api/v1/access/operators", params={"q": "\x00"}, headers=ADMIN).status_code == 422
    assert container.store.head() == head
    assert all(p["error"] is None for p in ok(client.get("/api/v1/projections", headers=ADMIN)))


def _operator(access_firm, login, department, roles, lines, scope):
    client = access_firm["client"]
    oid = ok(client.post("/api/v1/access/operators", headers=ADMIN, json={
        "login_name": login, "display_name": login, "department_id": access_firm["dept"][department],
        "phone": "13812345678", "password": PASSWORD}), 201)["id"]
    if roles:
        ok(client.post(f"/api/v1/access/operators/{oid}/roles", json={"roles": roles}, headers=ADMIN))
    ok(client.put(f"/api/v1/access/operators/{oid}/business-lines", json={"business_lines": lines}, headers=ADMIN))
    ok(client.put(f"/api/v1/access/operators/{oid}/data-scope", headers=ADMIN, json={
        "jurisdiction": [{"department_id": access_firm["dept"][d], "include_children": c} for d, c in scope]}))
    token = ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": PASSWORD}))["access_token"]
    return oid, {"Authorization": f"Bearer {token}"}


def test_nobody_grants_more_than_they_hold(access_firm):
    client = access_firm["client"]
    ok(client.post("/api/v1/access/roles", json={"key": "roleadmin", "name": "r",
                                                 "permissions": VIEW + ["access.roles.manage"]}, headers=ADMIN), 201)
    me_id, me = _operator(access_firm, "roleadm", "SH", ["roleadmin"], ["brokerage"], [("SH", True)])
    r = client.post("/api/v1/access/roles", json={"key": "god", "name": "g", "permissions": ["audit.view"]},
                    headers=me)
    assert r.status_code == 403 and "audit.view" in r.json()["detail"]
    r = client.post(f"/api/v1/access/operators/{me_id}/roles", json={"roles": ["viewer"]}, headers=me)
    assert r.status_code == 403 and "your own" in r.json()["detail"]
    r = client.post(f"/api/v1/access/operators/{access_firm['ids']['target_sh']}/roles", json={"roles": ["finance"]},
                    headers=me)
    assert r.status_code == 403


def test_a_manager_cannot_take_over_a_more_powerful_operator(access_firm):
    boss, _ = _operator(access_firm, "boss-s1", "SHS1", ["finance"], ["brokerage"], [("SHS1", True)])
    erin = as_(access_firm, "erin")
    for path, body in [("password", {"password": "Taken-Over-2026"}), ("disable", {"reason": "x"})]:
        r = access_firm["client"].post(f"/api/v1/access/operators/{boss}/{path}", json=body, headers=erin)
        assert r.status_code == 403, (path, r.text)


def test_api_tokens_see_no_more_than_their_issuer(access_firm):
    client = access_firm["client"]
    issued = ok(client.post("/api/v1/access/api-tokens", headers=as_(access_firm, "frank"), json={
        "name": "frank-feed", "permissions": ["access.operators.view"], "business_lines": ["brokerage"]}), 201)
    token = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get(f"/api/v1/access/operators/{access_firm['ids']['target_bj']}", headers=token).status_code == 404
    seen = ok(client.get(f"/api/v1/access/operators/{access_firm['ids']['target_sh']}", headers=token))
    assert seen["phone"] == "138****5678" and "email" not in seen
    ok(client.post(f"/api/v1/access/operators/{access_firm['ids']['frank']}/disable", json={"reason": "x"}, headers=ADMIN))
    assert client.get("/api/v1/me", headers=token).status_code == 401
    ok(client.post(f"/api/v1/access/operators/{access_firm['ids']['frank']}/enable", headers=ADMIN))


def test_a_scope_cannot_be_widened_by_its_holder(access_firm):
    client = access_firm["client"]
    ok(client.post("/api/v1/access/roles", json={"key": "scoper", "name": "s",
                                                 "permissions": VIEW + ["access.scopes.manage"]}, headers=ADMIN), 201)
    _, scoper = _operator(access_firm, "scoper", "SH", ["scoper"], ["brokerage"], [("SH", False)])
    target = access_firm["ids"]["target_sh"]
    wider = {"jurisdiction": [{"department_id": access_firm["dept"]["SH"], "include_children": True}]}
    assert client.put(f"/api/v1/access/operators/{target}/data-scope", json=wider, headers=scoper).status_code == 403
    accounts = {"jurisdiction": [{"department_id": access_firm["dept"]["SH"], "include_children": False}],
                "investor_accounts": ["88001234"]}
    assert client.put(f"/api/v1/access/operators/{target}/data-scope", json=accounts, headers=scoper).status_code == 403


def test_a_move_cannot_pull_foreign_sub_departments_into_view(access_firm):
    client = access_firm["client"]
    bjx = ok(client.post("/api/v1/access/departments", headers=ADMIN, json={
        "code": "BJX", "name": "BJX", "kind": "business_group", "parent_id": access_firm["dept"]["BJ"]}), 201)["id"]
    ok(client.post("/api/v1/access/roles", json={"key": "mover", "name": "m",
                                                 "permissions": VIEW + ["access.departments.manage"]}, headers=ADMIN), 201)
    _, mover = _operator(access_firm, "mover", "SH", ["mover"], ["brokerage"], [("SH", True), ("BJ", False)])
    r = client.post(f"/api/v1/access/departments/{access_firm['dept']['BJ']}/move", json={"parent_id": access_firm["dept"]["SH"]},
                    headers=mover)
    assert r.status_code == 403 and bjx not in r.text
    r = client.post(f"/api/v1/access/departments/{access_firm['dept']['SHS1']}/move", json={"parent_id": None}, headers=mover)
    assert r.status_code == 403 and r.json()["field"] == "parent_id"


def test_sending_a_hidden_field_is_refused_whatever_its_value(access_firm):
    erin = as_(access_firm, "erin")
    target = access_firm["ids"]["target_shs1"]
    for guess in ("target_shs1@firm.cn", "wrong@firm.cn"):  # a right guess must not answer differently
        r = access_firm["client"].patch(f"/api/v1/access/operators/{target}", json={"email": guess}, headers=erin)
        assert r.status_code == 403 and r.json()["field"] == "email"


def test_trails_mask_old_values_too(access_firm):
    client = access_firm["client"]
    rule = ok(client.post("/api/v1/access/field-rules", headers=ADMIN, json={
        "resource": "access.department", "field": "name", "effect": "masked", "mask": "name",
        "applies_to_roles": ["auditor"]}), 201)
    try:
        renamed_at = ok(client.patch(f"/api/v1/access/departments/{access_firm['dept']['SH']}", json={"name": "Shanghai"},
                                     headers=ADMIN))["position"]
        trail = ok(client.get(f"/api/v1/audit/aggregates/{access_firm['dept']['SH']}/trail",
                              headers=as_(access_firm, "alice")))["items"]
        renamed = trail[-1]
        assert renamed["data"] == {"old_name": "S*", "name": "S*******"}
        assert renamed["changes"]["name"] == {"old": "S*", "new": "S*******"}
        listed = ok(client.get(f"/api/v1/access/departments/{access_firm['dept']['SH']}",
                               params={"wait_for_position": renamed_at}, headers=as_(access_firm, "alice")))
        assert listed["name"] == "S*******"
    finally:
        ok(client.delete(f"/api/v1/access/field-rules/{rule['id']}", headers=ADMIN))
        ok(client.patch(f"/api/v1/access/departments/{access_firm['dept']['SH']}", json={"name": "SH"}, headers=ADMIN))


def test_field_rules_only_target_registered_optional_text_fields(access_firm):
    r = access_firm["client"].post("/api/v1/access/field-rules", headers=ADMIN, json={
        "resource": "access.operator", "field": "roles", "effect": "masked", "mask": "all"})
    assert r.status_code == 422 and r.json()["field"] == "field"
