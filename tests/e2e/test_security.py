"""Security, tried as an attacker would from outside: one text boundary in every encoding,
authorization that fails closed, administrators and tokens bound to their reach (ADR 0011).

The table below is the authorization suite: who asks, what, and the only acceptable answer.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from interfaces.api.app import create_app
from tests.engines import ADMIN_HEADERS as ADMIN
from tests.engines import running_container
from tests.legacy import unguarded_store

PASSWORD = "Correct-Horse-42"
ALL_ACCESS = ["access.departments.view", "access.departments.manage", "access.operators.view",
              "access.operators.manage", "access.operators.export", "access.roles.manage", "access.scopes.manage",
              "access.field_rules.manage", "access.api_tokens.manage", "audit.view"]


def ok(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else r


@pytest.fixture(scope="module")
def bank(engines, tmp_path_factory):
    """A firm with a head office and three branches, built through the API."""
    with running_container(engines, tmp_path_factory.mktemp("bank"), workers=True) as container:
        client = TestClient(create_app(container))
        dept: dict[str, str] = {}
        for code, parent in [("HQ", None), ("SH", "HQ"), ("BJ", "HQ"), ("FIN", "HQ")]:
            dept[code] = ok(client.post("/api/v1/access/departments", headers=ADMIN, json={
                "code": code, "name": code, "kind": "head_office" if code == "HQ" else "branch",
                "parent_id": dept.get(parent)}), 201)["id"]
        for line in ("brokerage", "ib"):
            ok(client.post("/api/v1/access/business-lines", json={"code": line, "name": line}, headers=ADMIN), 201)
        roles = {"admin": ALL_ACCESS, "auditor": ["audit.view", "access.operators.view"],
                 "branch_admin": ["access.roles.manage", "access.operators.manage", "access.operators.view",
                                  "access.api_tokens.manage", "access.scopes.manage"],
                 "viewer": ["access.operators.view"],
                 "tokens": ["access.api_tokens.manage", "access.operators.view"]}
        for key, permissions in roles.items():
            ok(client.post("/api/v1/access/roles", headers=ADMIN,
                           json={"key": key, "name": key, "permissions": permissions}), 201)
        people = {  # login: (department, roles, lines, jurisdiction)
            "root": ("HQ", ["admin"], ["brokerage", "ib"], "HQ"),
            "root-two": ("HQ", ["admin"], ["brokerage", "ib"], "HQ"),
            "sh-admin": ("SH", ["branch_admin"], ["brokerage"], "SH"),
            "bj-admin": ("BJ", ["branch_admin"], ["brokerage"], "BJ"),
            "sh-viewer": ("SH", ["viewer"], ["brokerage"], "SH"),
            "bj-viewer": ("BJ", ["viewer"], ["brokerage"], "BJ"),
            "sh-tokens": ("SH", ["tokens"], ["brokerage"], "SH"),
            "mover": ("SH", ["viewer"], ["brokerage"], "SH"),
        }
        ids: dict[str, str] = {}
        for login, (department, granted, lines, scope) in people.items():
            ids[login] = ok(client.post("/api/v1/access/operators", headers=ADMIN, json={
                "login_name": login, "display_name": login, "department_id": dept[department],
                "phone": "13812345678", "password": PASSWORD}), 201)["id"]
            ok(client.post(f"/api/v1/access/operators/{ids[login]}/roles", json={"roles": granted}, headers=ADMIN))
            ok(client.put(f"/api/v1/access/operators/{ids[login]}/business-lines", headers=ADMIN,
                          json={"business_lines": lines}))
            ok(client.put(f"/api/v1/access/operators/{ids[login]}/data-scope", headers=ADMIN, json={
                "jurisdiction": [{"department_id": dept[scope], "include_children": True}]}))
        # Phone numbers are masked for everyone but the finance department.
        ok(client.post("/api/v1/access/field-rules", headers=ADMIN, json={
            "resource": "access.operator", "field": "phone", "effect": "masked", "mask": "phone",
            "exempt_departments": [dept["FIN"]]}), 201)
        tokens = {login: ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": PASSWORD}))[
            "access_token"] for login in people}
        yield {"client": client, "container": container, "dept": dept, "ids": ids, "tokens": tokens}


def as_(bank: dict, who: str) -> dict[str, str]:
    if who == "bootstrap":
        return ADMIN
    return {"Authorization": f"Bearer {bank['tokens'][who]}"}


# -- the text boundary ------------------------------------------------------------------------------
def raw(bank: dict, who: str, method: str, path: str, body: bytes, content_type: str, **headers: str):
    return bank["client"].request(method, path, content=body, headers={
        **as_(bank, who), "Content-Type": content_type, **headers})


def test_a_utf16_body_hiding_a_nul_is_refused_415_and_nothing_is_stored(bank):
    head = bank["container"].store.head()
    body = json.dumps({"display_name": "p\u0000"}).encode("utf-16")
    r = raw(bank, "sh-admin", "PATCH", f"/api/v1/access/operators/{bank['ids']['sh-admin']}", body,
            "application/json; charset=utf-16")
    assert r.status_code == 415 and r.headers["content-type"] == "application/problem+json"
    assert bank["container"].store.head() == head


@pytest.mark.parametrize("charset,encoding", [("utf-32", "utf-32"), ("utf-16le", "utf-16-le"),
                                              ("latin-1", "latin-1")])
def test_json_in_any_charset_but_utf8_is_refused_415(bank, charset, encoding):
    body = json.dumps({"code": "X1", "name": "x", "kind": "branch"}).encode(encoding)
    r = raw(bank, "bootstrap", "POST", "/api/v1/access/departments", body, f"application/json; charset={charset}")
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"


def test_an_undeclared_utf16_body_is_refused_415(bank):
    body = json.dumps({"code": "X2", "name": "x\u0000", "kind": "branch"}).encode("utf-16")
    r = raw(bank, "bootstrap", "POST", "/api/v1/access/departments", body, "application/json")
    assert r.status_code == 415


@pytest.mark.parametrize("body", [
    b'\xef\xbb\xbf{"code": "B1", "name": "x", "kind": "branch"}',                    # UTF-8 with a BOM
    json.dumps({"code": "B2", "name": "x", "kind": "branch"}).encode("utf-16-le"),  # no BOM, no charset
    json.dumps({"code": "B3", "name": "x", "kind": "branch"}).encode("utf-32-le"),
])
def test_bodies_another_parser_would_read_differently_are_refused(bank, body):
    r = raw(bank, "bootstrap", "POST", "/api/v1/access/departments", body, "application/json")
    assert r.status_code in (415, 422) and r.json()["code"] in ("unsupported_media_type", "invalid_json")
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_a_request_with_two_content_types_is_refused(bank):
    r = bank["client"].post("/api/v1/access/departments", content=b'{"code": "D2"}', headers=[
        ("Authorization", ADMIN["Authorization"]), ("Content-Type", "application/json"), ("Content-Type", "text/csv")])
    assert r.status_code == 400 and r.json()["code"] == "ambiguous_headers"


def test_a_body_that_is_not_json_or_a_file_is_refused_415(bank):
    r = raw(bank, "bootstrap", "POST", "/api/v1/access/departments", b"code=X3", "application/x-www-form-urlencoded")
    assert r.status_code == 415


@pytest.mark.parametrize("path,body,field", [
    ("/api/v1/access/departments", {"code": "N1", "name": "a\u0000b", "kind": "branch"}, "name"),
    ("/api/v1/access/roles", {"key": "nulrole", "name": "r\u0000", "permissions": []}, "name"),
    ("/api/v1/access/business-lines", {"code": "nulline", "name": "\u0000"}, "name"),
    ("/api/v1/forms/records", {"business_type": "x", "subject": "s", "data": {"a": {"b": ["ok", "x\u0000"]}}},
     "data.a.b.1"),
    ("/api/v1/flows/instances", {"definition": "x", "title": "t\u0000"}, "title"),
    ("/api/v1/access/field-rules", {"resource": "access.operator", "field": "phone", "effect": "hidden",
                                    "applies_to_roles": ["vi\u0000ewer"]}, "applies_to_roles.0"),
])
def test_a_nul_in_any_context_is_refused_422_naming_the_field(bank, path, body, field):
    head = bank["container"].store.head()
    r = bank["client"].post(path, json=body, headers=ADMIN)
    assert r.status_code == 422 and r.json()["code"] == "nul_character" and r.json()["field"] == field, r.text
    assert bank["container"].store.head() == head


def test_a_nul_in_an_object_key_is_refused(bank):
    r = raw(bank, "bootstrap", "POST", "/api/v1/forms/records",
            b'{"business_type": "x", "subject": "s", "data": {"k\\u0000": 1}}', "application/json")
    assert r.status_code == 422 and r.json()["code"] == "nul_character"


def test_a_lone_surrogate_is_refused_422(bank):
    r = raw(bank, "bootstrap", "POST", "/api/v1/access/departments",
            b'{"code": "S1", "name": "bad \\ud800 text", "kind": "branch"}', "application/json")
    assert r.status_code == 422 and r.json()["code"] == "invalid_text" and r.json()["field"] == "name"


def test_json_nested_deeper_than_32_levels_is_refused_before_parsing(bank):
    deep = "[" * 600 + "]" * 600
    r = raw(bank, "bootstrap", "POST", "/api/v1/forms/records",
            f'{{"business_type": "x", "subject": "s", "data": {{"d": {deep}}}}}'.encode(), "application/json")
    assert r.status_code == 422 and r.json()["code"] == "nesting_too_deep"


def test_brackets_inside_strings_do_not_count_as_nesting(bank):
    r = bank["client"].post("/api/v1/access/departments", headers=ADMIN,
                            json={"code": "BRACKETS", "name": "[" * 40 + "{" * 40, "kind": "branch",
                                  "parent_id": bank["dept"]["HQ"]})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("literal,code", [("18446744073709551616", "number_out_of_range"),
                                          ("NaN", "number_out_of_range"), ("-Infinity", "number_out_of_range")])
def test_numbers_the_store_cannot_hold_are_refused_422(bank, literal, code):
    r = raw(bank, "bootstrap", "POST", "/api/v1/forms/records",
            f'{{"business_type": "x", "subject": "s", "data": {{"n": {literal}}}}}'.encode(), "application/json")
    assert r.status_code == 422 and r.json()["code"] == code and r.json()["field"] == "data.n"


def test_an_if_match_of_5000_digits_is_400(bank):
    r = bank["client"].patch(f"/api/v1/access/operators/{bank['ids']['mover']}", json={"display_name": "m"},
                             headers={**ADMIN, "If-Match": '"' + "9" * 5000 + '"'})
    assert r.status_code == 400 and r.json()["code"] == "invalid_if_match"


@pytest.mark.parametrize("values", [["a\u0000b"], ["\ud800"], [2**70], [{"x": 1}]])
def test_a_cursor_that_decodes_to_unstorable_values_is_400(bank, values):
    raw_json = json.dumps(values).encode()
    cursor = base64.urlsafe_b64encode(raw_json).decode().rstrip("=")
    r = bank["client"].get("/api/v1/access/operators", params={"cursor": cursor}, headers=ADMIN)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"


def test_an_oversized_cursor_is_400(bank):
    r = bank["client"].get("/api/v1/access/operators", params={"cursor": "A" * 5000}, headers=ADMIN)
    assert r.status_code == 400


def test_every_answer_carries_the_security_headers_and_no_server_banner(bank):
    for r in (bank["client"].get("/api/v1/me", headers=ADMIN), bank["client"].get("/api/v1/me"),
              bank["client"].get("/health")):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert "server" not in r.headers
    assert "strict-transport-security" not in r.headers  # only when TLS terminates in front (a setting)


def test_cors_is_off_by_default(bank):
    r = bank["client"].options("/api/v1/me", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_answers_only_the_listed_ui_origins(engines, tmp_path):
    with running_container(engines, tmp_path, cors_origins="https://ui.firm.example", hsts_seconds=31536000) as c:
        client = TestClient(create_app(c))
        good = client.options("/api/v1/me", headers={"Origin": "https://ui.firm.example",
                                                     "Access-Control-Request-Method": "GET"})
        assert good.headers["access-control-allow-origin"] == "https://ui.firm.example"
        bad = client.options("/api/v1/me", headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in bad.headers
        assert client.get("/health").headers["strict-transport-security"].startswith("max-age=31536000")


def test_the_access_log_has_one_line_per_request_without_query_values(bank, caplog):
    with caplog.at_level("INFO", logger="ledgerflow.access"):
        bank["client"].get(f"/api/v1/access/operators/{bank['ids']['mover']}", params={"secret": "13812345678"},
                           headers=as_(bank, "root"))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "ledgerflow.access"]
    assert len(lines) == 1
    assert lines[0]["route"] == "/api/v1/access/operators/{operator_id}" and lines[0]["actor"] == "operator:root"
    assert "13812345678" not in caplog.text and bank["ids"]["mover"] not in caplog.text


# -- authorization fails closed -------------------------------------------------------------------
def test_an_operator_whose_access_events_cannot_be_applied_is_refused_until_repaired(engines, tmp_path):
    """The attack of the UTF-16 NUL, as far as it can still go: an event an older release
    stored that the principals projection cannot apply. The operator's session and API tokens
    are refused from then on — also after an administrator disables him (the disable is parked
    behind it) — and after the repair the disable takes effect."""
    with running_container(engines, tmp_path, workers=True) as container:
        client = TestClient(create_app(container))
        hq = ok(client.post("/api/v1/access/departments", headers=ADMIN,
                            json={"code": "HQ", "name": "HQ", "kind": "head_office"}), 201)["id"]
        ok(client.post("/api/v1/access/roles", headers=ADMIN,
                       json={"key": "admin", "name": "admin", "permissions": ALL_ACCESS}), 201)
        mallory = ok(client.post("/api/v1/access/operators", headers=ADMIN, json={
            "login_name": "mallory", "display_name": "Mallory", "department_id": hq, "password": PASSWORD}), 201)["id"]
        ok(client.post(f"/api/v1/access/operators/{mallory}/roles", json={"roles": ["admin"]}, headers=ADMIN))
        ok(client.put(f"/api/v1/access/operators/{mallory}/data-scope", headers=ADMIN,
                      json={"jurisdiction": [{"department_id": hq}]}))
        session = {"Authorization": "Bearer " + ok(client.post("/api/v1/auth/login", json={
            "login_name": "mallory", "password": PASSWORD}))["access_token"]}
        api_token = {"Authorization": "Bearer " + ok(client.post("/api/v1/access/api-tokens", headers=session, json={
            "name": "mallory-bot", "permissions": ["access.operators.view"]}), 201)["token"]}
        assert client.get("/api/v1/me", headers=api_token).status_code == 200

        from uuid import UUID

        with unguarded_store(container.store):  # what the UTF-16 NUL stored before the boundary
            container.access.change_operator_profile(
                _ctx(), UUID(mallory), "p\u0000", UUID(hq), None, None, None)
        poisoned = container.store.head()
        container.progress.wait_for(["access.principals"], poisoned, 10)
        for headers in (session, api_token):
            r = client.get("/api/v1/me", headers=headers)
            assert r.status_code == 401 and r.json()["code"] == "access_records_inconsistent", r.text
        assert client.post("/api/v1/access/operators", headers=session, json={
            "login_name": "mallory2", "display_name": "x", "department_id": hq}).status_code == 401

        ok(client.post(f"/api/v1/access/operators/{mallory}/roles/revoke", json={"roles": ["admin"]}, headers=ADMIN))
        r = client.post(f"/api/v1/access/operators/{mallory}/disable", json={"reason": "attack"}, headers=ADMIN)
        assert r.status_code in (200, 503)  # recorded; the read model cannot apply it behind the parked event
        for headers in (session, api_token):
            assert client.get("/api/v1/me", headers=headers).status_code == 401
        metrics = client.get("/metrics", headers=ADMIN).text
        assert 'ledgerflow_auth_stale_principal_refusals_total{reason="parked"}' in metrics

        runner = container.runners["access.principals"]
        assert runner.retry_parked(skip={poisoned}) == (2, 0)  # the repair: set the poisoned event aside
        assert client.get("/api/v1/me", headers=session).json()["code"] == "account_disabled"
        assert client.get("/api/v1/me", headers=api_token).status_code == 401


def _ctx():
    from domain.shared.context import CommandContext

    return CommandContext(actor="operator:mallory", correlation_id="utf16-attack")


# -- the authorization table ----------------------------------------------------------------------
@dataclass
class Case:
    name: str
    who: str
    method: str
    path: str                    # may name {ids[x]} / {dept[X]}
    status: int
    body: dict | None = None
    check: Callable[[Any], None] | None = None

    def url(self, bank: dict) -> str:
        return self.path.format(ids=bank["ids"], dept=bank["dept"])


def logins(expected: set[str]) -> Callable[[Any], None]:
    def check(r: Any) -> None:
        assert {o["login_name"] for o in r.json()["items"]} == expected

    return check


SH_PEOPLE = {"sh-admin", "sh-viewer", "sh-tokens", "mover"}
CASES = [
    # firm-wide roles need firm-wide reach; nobody strips powers they do not hold
    Case("branch admin rewrites the firm-wide admin role", "sh-admin", "PUT", "/api/v1/access/roles/admin/permissions",
         403, {"permissions": ["access.operators.view"]}),
    Case("branch admin rewrites the firm-wide auditor role", "sh-admin", "PUT",
         "/api/v1/access/roles/auditor/permissions", 403, {"permissions": []}),
    Case("branch admin rewrites the firm-wide viewer role", "sh-admin", "PUT",
         "/api/v1/access/roles/viewer/permissions", 403, {"permissions": ["access.operators.view"]}),
    Case("branch admin defines a role owned by another branch", "sh-admin", "POST", "/api/v1/access/roles", 403,
         {"key": "bj_local", "name": "x", "permissions": [], "owner_department_id": "{dept[BJ]}"}),
    Case("branch admin defines a role for his branch", "sh-admin", "POST", "/api/v1/access/roles", 201,
         {"key": "sh_local", "name": "x", "permissions": ["access.operators.view"]}),
    Case("branch admin changes his branch's role", "sh-admin", "PUT", "/api/v1/access/roles/sh_local/permissions",
         200, {"permissions": ["access.operators.view", "access.operators.manage"]}),
    Case("another branch's admin changes that role", "bj-admin", "PUT", "/api/v1/access/roles/sh_local/permissions",
         403, {"permissions": []}),
    Case("branch admin grants a permission he lacks to his role", "sh-admin", "PUT",
         "/api/v1/access/roles/sh_local/permissions", 403, {"permissions": ["audit.view"]}),
    Case("firm-wide admin rewrites the auditor role", "root", "PUT", "/api/v1/access/roles/auditor/permissions", 200,
         {"permissions": ["audit.view", "access.operators.view", "access.departments.view"]}),
    Case("a role that does not exist", "root", "PUT", "/api/v1/access/roles/nope/permissions", 404,
         {"permissions": []}),
    Case("viewer changes a role", "sh-viewer", "PUT", "/api/v1/access/roles/viewer/permissions", 403,
         {"permissions": []}),
    # nobody moves themselves; exemptions need four eyes
    Case("operator manager moves himself to another branch", "sh-admin", "PATCH",
         "/api/v1/access/operators/{ids[sh-admin]}", 403, {"department_id": "{dept[HQ]}"}),
    Case("administrator moves himself", "root", "PATCH", "/api/v1/access/operators/{ids[root]}", 403,
         {"department_id": "{dept[SH]}"}),
    Case("administrator moves someone into the department exempt from the phone mask", "root", "PATCH",
         "/api/v1/access/operators/{ids[sh-viewer]}", 403, {"department_id": "{dept[FIN]}"}),
    Case("administrator moves someone between departments the rule treats alike", "root", "PATCH",
         "/api/v1/access/operators/{ids[bj-viewer]}", 200, {"department_id": "{dept[BJ]}", "display_name": "bjv"}),
    Case("administrator renames himself (no move)", "root", "PATCH", "/api/v1/access/operators/{ids[root]}", 200,
         {"display_name": "Root"}),
    Case("grant yourself a role", "root", "POST", "/api/v1/access/operators/{ids[root]}/roles", 403,
         {"roles": ["auditor"]}),
    Case("branch admin grants roles to someone of another branch", "sh-admin", "POST",
         "/api/v1/access/operators/{ids[bj-viewer]}/roles", 404, {"roles": ["viewer"]}),
    Case("branch admin widens his own scope", "sh-admin", "PUT", "/api/v1/access/operators/{ids[sh-admin]}/data-scope",
         403, {"jurisdiction": [{"department_id": "{dept[HQ]}"}]}),
    Case("branch admin grants scope beyond his own", "sh-admin", "PUT",
         "/api/v1/access/operators/{ids[sh-viewer]}/data-scope", 404, {"jurisdiction": [{"department_id": "{dept[BJ]}"}]}),
    Case("branch admin grants a line he does not hold", "sh-admin", "PUT",
         "/api/v1/access/operators/{ids[sh-viewer]}/business-lines", 403, {"business_lines": ["ib"]}),
    Case("branch admin resets an administrator's password", "sh-admin", "POST",
         "/api/v1/access/operators/{ids[root]}/password", 404, {"password": "Another-Pass-99"}),
    Case("branch admin disables someone of another branch", "sh-admin", "POST",
         "/api/v1/access/operators/{ids[bj-admin]}/disable", 404, {"reason": "x"}),
    Case("branch admin creates an operator in another branch", "sh-admin", "POST", "/api/v1/access/operators", 404,
         {"login_name": "intruder", "display_name": "x", "department_id": "{dept[BJ]}"}),
    # who sees whom, and how
    Case("branch viewer lists operators", "sh-viewer", "GET", "/api/v1/access/operators", 200,
         check=logins(SH_PEOPLE)),
    Case("other branch viewer lists operators", "bj-viewer", "GET", "/api/v1/access/operators", 200,
         check=logins({"bj-admin", "bj-viewer"})),
    Case("branch viewer reads another branch's operator", "sh-viewer", "GET",
         "/api/v1/access/operators/{ids[bj-viewer]}", 404),
    Case("branch viewer reads a head-office operator", "sh-viewer", "GET", "/api/v1/access/operators/{ids[root]}", 404),
    Case("branch viewer sees phones masked", "sh-viewer", "GET", "/api/v1/access/operators/{ids[mover]}", 200,
         check=lambda r: r.json()["phone"] == "138****5678"),
    Case("branch viewer exports operators", "sh-viewer", "GET", "/api/v1/access/operators/export", 403),
    Case("viewer creates an operator", "sh-viewer", "POST", "/api/v1/access/operators", 403,
         {"login_name": "x-y-z", "display_name": "x", "department_id": "{dept[SH]}"}),
    Case("viewer reads the audit trail", "sh-viewer", "GET", "/api/v1/audit/aggregates/{ids[mover]}/trail", 403),
    Case("viewer lists roles", "sh-viewer", "GET", "/api/v1/access/roles", 403),
    Case("viewer lists API tokens", "sh-viewer", "GET", "/api/v1/access/api-tokens", 403),
    Case("viewer issues an API token", "sh-viewer", "POST", "/api/v1/access/api-tokens", 403, {"name": "x"}),
    Case("anonymous reads operators", "anonymous", "GET", "/api/v1/access/operators", 401),
    Case("anonymous reads me", "anonymous", "GET", "/api/v1/me", 401),
    Case("token manager issues a token with a permission he lacks", "sh-tokens", "POST", "/api/v1/access/api-tokens",
         403, {"name": "x", "permissions": ["access.operators.manage"]}),
    Case("token manager issues a token for a line he lacks", "sh-tokens", "POST", "/api/v1/access/api-tokens", 403,
         {"name": "x", "permissions": ["access.operators.view"], "business_lines": ["ib"]}),
    Case("token manager issues a token with an unknown permission", "sh-tokens", "POST", "/api/v1/access/api-tokens",
         422, {"name": "x", "permissions": ["no.such.thing"]}),
    # more of who reaches whom
    Case("other branch viewer reads a Shanghai operator", "bj-viewer", "GET",
         "/api/v1/access/operators/{ids[sh-viewer]}", 404),
    Case("other branch viewer reads an administrator", "bj-viewer", "GET", "/api/v1/access/operators/{ids[root]}",
         404),
    Case("token manager lists operators of his branch", "sh-tokens", "GET", "/api/v1/access/operators", 200,
         check=lambda r: {o["login_name"] for o in r.json()["items"]} >= {"sh-admin", "mover"}),
    Case("branch admin lists roles", "sh-admin", "GET", "/api/v1/access/roles", 200),
    Case("branch admin exports operators without the export permission", "sh-admin", "GET",
         "/api/v1/access/operators/export", 403),
    Case("other branch admin grants roles to a Shanghai operator", "bj-admin", "POST",
         "/api/v1/access/operators/{ids[sh-viewer]}/roles", 404, {"roles": ["viewer"]}),
    Case("other branch admin disables a Shanghai operator", "bj-admin", "POST",
         "/api/v1/access/operators/{ids[sh-viewer]}/disable", 404, {"reason": "x"}),
    Case("branch admin sets the lines of another branch's operator", "sh-admin", "PUT",
         "/api/v1/access/operators/{ids[bj-viewer]}/business-lines", 404, {"business_lines": ["brokerage"]}),
    Case("viewer withdraws a field rule", "sh-viewer", "DELETE",
         "/api/v1/access/field-rules/00000000-0000-0000-0000-000000000001", 403),
    Case("viewer defines a field rule", "sh-viewer", "POST", "/api/v1/access/field-rules", 403,
         {"resource": "access.operator", "field": "phone", "effect": "hidden"}),
    Case("viewer requests a department move", "sh-viewer", "POST",
         "/api/v1/access/operators/{ids[mover]}/department-move", 403, {"department_id": "{dept[HQ]}"}),
    Case("branch admin requests a move of another branch's operator", "sh-admin", "POST",
         "/api/v1/access/operators/{ids[bj-viewer]}/department-move", 404, {"department_id": "{dept[SH]}"}),
    Case("token manager revokes a token that does not exist", "sh-tokens", "DELETE",
         "/api/v1/access/api-tokens/00000000-0000-0000-0000-000000000002", 404),
    Case("anonymous defines a role", "anonymous", "POST", "/api/v1/access/roles", 401,
         {"key": "anon", "name": "x", "permissions": []}),
    Case("anonymous lists API tokens", "anonymous", "GET", "/api/v1/access/api-tokens", 401),
    Case("an administrator outside finance sees phones masked", "root", "GET",
         "/api/v1/access/operators/{ids[bj-viewer]}", 200, check=lambda r: r.json()["phone"] == "138****5678"),
    Case("viewer reads his own business lines", "sh-viewer", "GET", "/api/v1/access/business-lines", 200,
         check=lambda r: [line["code"] for line in r.json()] == ["brokerage"]),
    # SQL data sources: the parser first, the database's privileges behind it (see also
    # tests/integration/test_data_source_privileges.py and tests/e2e/test_data_source_scope.py)
    Case("a data source shadows access_operators with a CTE to read password hashes", "bootstrap", "POST",
         "/api/v1/forms/data-sources", 422, {"key": "steal_hashes", "name": "x", "kind": "sql", "config": {
             "sql": "SELECT login_name AS login, password_hash AS secret FROM access_operators WHERE EXISTS "
                    "(WITH access_operators AS (SELECT 1) SELECT 1 FROM access_operators)"}}),
    Case("a data source shadows access_sessions to read token hashes", "bootstrap", "POST",
         "/api/v1/forms/data-sources", 422, {"key": "steal_tokens", "name": "x", "kind": "sql", "config": {
             "sql": "SELECT access_hash FROM access_sessions WHERE EXISTS "
                    "(WITH access_sessions AS (SELECT 1) SELECT 1 FROM access_sessions)"}}),
    Case("a data source over customers without a scope column", "bootstrap", "POST", "/api/v1/forms/data-sources",
         422, {"key": "unscoped", "name": "x", "kind": "sql", "config": {
             "sql": "SELECT name, id_number, phone FROM forms_customers"}}),
    Case("a data source that computes a personal column to dodge field rules", "bootstrap", "POST",
         "/api/v1/forms/data-sources", 422, {"key": "computed", "name": "x", "kind": "sql", "config": {
             "sql": "SELECT fund_account, upper(id_number) AS idn FROM forms_customers"}}),
    Case("a data source over a table outside the allow-list", "bootstrap", "POST", "/api/v1/forms/data-sources",
         422, {"key": "outside", "name": "x", "kind": "sql", "config": {
             "sql": "SELECT fund_account, department_id FROM flows_instances"}}),
    Case("a scoped data source with an aliased fund account is accepted", "bootstrap", "POST",
         "/api/v1/forms/data-sources", 201, {"key": "scoped_alias", "name": "x", "kind": "sql", "config": {
             "sql": "SELECT fund_account AS acct, name, id_number, phone, department_id FROM forms_customers"}}),
]


def _resolve(value: Any, bank: dict) -> Any:
    if isinstance(value, str):
        return value.format(ids=bank["ids"], dept=bank["dept"])
    if isinstance(value, list):
        return [_resolve(v, bank) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, bank) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_authorization(bank, case):
    headers = {} if case.who == "anonymous" else as_(bank, case.who)
    r = bank["client"].request(case.method, case.url(bank), headers=headers,
                               json=_resolve(case.body, bank) if case.body is not None else None)
    assert r.status_code == case.status, (r.status_code, r.text)
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json"
    if case.check:
        case.check(r)


# -- tokens are worth what their issuer holds now --------------------------------------------------
def _operator(client: TestClient, dept: str, login: str, roles: list[str], scope: str) -> tuple[str, dict]:
    oid = ok(client.post("/api/v1/access/operators", headers=ADMIN, json={
        "login_name": login, "display_name": login, "department_id": dept, "password": PASSWORD}), 201)["id"]
    ok(client.post(f"/api/v1/access/operators/{oid}/roles", json={"roles": roles}, headers=ADMIN))
    ok(client.put(f"/api/v1/access/operators/{oid}/business-lines", json={"business_lines": ["brokerage"]},
                  headers=ADMIN))
    ok(client.put(f"/api/v1/access/operators/{oid}/data-scope", headers=ADMIN,
                  json={"jurisdiction": [{"department_id": scope}]}))
    token = ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": PASSWORD}))["access_token"]
    return oid, {"Authorization": f"Bearer {token}"}


def test_an_api_token_loses_what_its_issuer_loses(bank):
    client, dept = bank["client"], bank["dept"]
    issuer, session = _operator(client, dept["SH"], "issuer-one", ["tokens"], dept["HQ"])
    token = {"Authorization": "Bearer " + ok(client.post("/api/v1/access/api-tokens", headers=session, json={
        "name": "reporting", "permissions": ["access.operators.view"], "business_lines": ["brokerage"]}), 201)["token"]}
    everyone = {o["login_name"] for o in ok(client.get("/api/v1/access/operators", headers=token))["items"]}
    assert {"root", "bj-viewer", "mover"} <= everyone
    # The issuer's scope shrinks to Shanghai: so does the token's.
    ok(client.put(f"/api/v1/access/operators/{issuer}/data-scope", headers=ADMIN,
                  json={"jurisdiction": [{"department_id": dept["SH"]}]}))
    assert client.get(f"/api/v1/access/operators/{bank['ids']['root']}", headers=token).status_code == 404
    assert client.get(f"/api/v1/access/operators/{bank['ids']['mover']}", headers=token).status_code == 200
    # The issuer loses the role that carried the permission: the token loses it too.
    ok(client.post(f"/api/v1/access/operators/{issuer}/roles/revoke", json={"roles": ["tokens"]}, headers=ADMIN))
    r = client.get("/api/v1/access/operators", headers=token)
    assert r.status_code == 403 and "access.operators.view" in r.json()["detail"]
    # Given back, it works again: the token never held more than the intersection.
    ok(client.post(f"/api/v1/access/operators/{issuer}/roles", json={"roles": ["tokens"]}, headers=ADMIN))
    assert client.get("/api/v1/access/operators", headers=token).status_code == 200
    # The issuer loses the business line: nothing of that line is visible through the token.
    ok(client.put(f"/api/v1/access/operators/{issuer}/business-lines", json={"business_lines": []}, headers=ADMIN))
    assert ok(client.get("/api/v1/me", headers=token))["business_lines"] == []
    # A password reset of the issuer does not help a token made before it: disabling does.
    ok(client.post(f"/api/v1/access/operators/{issuer}/disable", json={"reason": "left"}, headers=ADMIN))
    assert client.get("/api/v1/me", headers=token).status_code == 401


def test_an_api_token_cannot_issue_api_tokens(bank):
    client = bank["client"]
    _, session = _operator(client, bank["dept"]["SH"], "minter", ["tokens"], bank["dept"]["SH"])
    parent = {"Authorization": "Bearer " + ok(client.post("/api/v1/access/api-tokens", headers=session, json={
        "name": "parent", "permissions": ["access.api_tokens.manage"]}), 201)["token"]}
    r = client.post("/api/v1/access/api-tokens", headers=parent, json={"name": "child"})
    assert r.status_code == 403


def test_a_token_minted_by_a_token_before_that_was_refused_is_not_honoured(bank):
    from domain.shared.context import CommandContext

    container = bank["container"]
    issued = container.access.issue_api_token(
        CommandContext(actor="api_token:parent", correlation_id="legacy"), "orphan", [], ["access.operators.view"],
        [], None, {"actor": "api_token:parent", "operator_id": None, "roles": ["admin"], "jurisdiction": None,
                   "investor_accounts": []})
    container.progress.wait_for(["access.principals"], issued.position, 10)
    r = bank["client"].get("/api/v1/me", headers={"Authorization": f"Bearer {issued.token}"})
    assert r.status_code == 401


def test_a_token_acts_for_its_issuer_who_still_cannot_administer_or_move_himself(bank):
    client, dept = bank["client"], bank["dept"]
    me, session = _operator(client, dept["SH"], "self-server", ["branch_admin"], dept["SH"])
    tokens = [{"Authorization": "Bearer " + ok(client.post("/api/v1/access/api-tokens", headers=session, json={
        "name": f"t{i}", "permissions": ["access.operators.manage", "access.operators.view"],
        "business_lines": ["brokerage"]}), 201)["token"]} for i in range(2)]
    assert client.post(f"/api/v1/access/operators/{me}/password", json={"password": "Another-Pass-99"},
                       headers=tokens[0]).status_code == 403
    assert client.post(f"/api/v1/access/operators/{me}/department-move", json={"department_id": dept["FIN"]},
                       headers=tokens[0]).status_code == 403


def test_a_branch_administrator_cannot_be_the_second_administrator_of_a_move(bank):
    client, dept = bank["client"], bank["dept"]
    # A desk inside Shanghai that a rule exempts: the Shanghai administrator sees both ends.
    desk = ok(client.post("/api/v1/access/departments", headers=ADMIN, json={
        "code": "SHDESK", "name": "SH desk", "kind": "business_group", "parent_id": dept["SH"]}), 201)["id"]
    ok(client.post("/api/v1/access/field-rules", headers=ADMIN, json={
        "resource": "access.operator", "field": "email", "effect": "hidden", "exempt_departments": [desk]}), 201)
    target, _ = _operator(client, dept["SH"], "puppet-target", ["viewer"], dept["SH"])
    ok(client.post(f"/api/v1/access/operators/{target}/department-move", json={"department_id": desk},
                   headers=as_(bank, "root")))
    r = client.post(f"/api/v1/access/operators/{target}/department-move/approve", headers=as_(bank, "sh-admin"))
    assert r.status_code == 403 and "firm-wide" in r.json()["detail"]
    ok(client.post(f"/api/v1/access/operators/{target}/department-move/approve", headers=as_(bank, "root-two")))


def test_token_managers_list_and_revoke_only_tokens_within_their_reach(bank):
    client, dept = bank["client"], bank["dept"]
    _, sh_session = _operator(client, dept["SH"], "sh-token-mgr", ["tokens"], dept["SH"])
    _, bj_session = _operator(client, dept["BJ"], "bj-token-mgr", ["tokens"], dept["BJ"])
    sh_token = ok(client.post("/api/v1/access/api-tokens", headers=sh_session, json={"name": "sh-bot"}), 201)["id"]
    bj_token = ok(client.post("/api/v1/access/api-tokens", headers=bj_session, json={"name": "bj-bot"}), 201)["id"]
    firm_token = ok(client.post("/api/v1/access/api-tokens", headers=ADMIN, json={"name": "firm-bot"}), 201)["id"]
    seen = {t["name"] for t in ok(client.get("/api/v1/access/api-tokens", headers=sh_session))}
    assert "sh-bot" in seen and "bj-bot" not in seen and "firm-bot" not in seen
    assert client.delete(f"/api/v1/access/api-tokens/{bj_token}", headers=sh_session).status_code == 404
    assert client.delete(f"/api/v1/access/api-tokens/{firm_token}", headers=sh_session).status_code == 404
    ok(client.delete(f"/api/v1/access/api-tokens/{sh_token}", headers=sh_session))
    everything = {t["name"] for t in ok(client.get("/api/v1/access/api-tokens", headers=as_(bank, "root")))}
    assert {"sh-bot", "bj-bot", "firm-bot"} <= everything


def test_a_move_that_gains_a_field_rule_exemption_needs_a_second_administrator(bank):
    client, ids, dept = bank["client"], bank["ids"], bank["dept"]
    mover = ids["mover"]
    r = client.patch(f"/api/v1/access/operators/{mover}", json={"department_id": dept["FIN"]},
                     headers=as_(bank, "root"))
    assert r.status_code == 403 and "department-move" in r.json()["detail"]
    ok(client.post(f"/api/v1/access/operators/{mover}/department-move", json={"department_id": dept["FIN"]},
                   headers=as_(bank, "root")))
    pending = ok(client.get(f"/api/v1/access/operators/{mover}", headers=as_(bank, "root")))
    assert pending["pending_department_id"] == dept["FIN"] and pending["department_id"] == dept["SH"]
    same = client.post(f"/api/v1/access/operators/{mover}/department-move/approve", headers=as_(bank, "root"))
    assert same.status_code == 403
    ok(client.post(f"/api/v1/access/operators/{mover}/department-move/approve", headers=as_(bank, "root-two")))
    moved = ok(client.get(f"/api/v1/access/operators/{mover}", headers=as_(bank, "root")))
    assert moved["department_id"] == dept["FIN"] and moved["pending_department_id"] is None
    again = client.post(f"/api/v1/access/operators/{mover}/department-move/approve", headers=as_(bank, "root-two"))
    assert again.status_code == 409


def test_refused_requests_store_nothing(bank):
    head = bank["container"].store.head()
    for case in CASES:
        if case.status >= 400 and case.method != "GET":
            headers = {} if case.who == "anonymous" else as_(bank, case.who)
            bank["client"].request(case.method, case.url(bank), headers=headers,
                                   json=_resolve(case.body, bank) if case.body is not None else None)
    assert bank["container"].store.head() == head
