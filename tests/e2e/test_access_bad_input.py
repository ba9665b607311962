"""Access administration: bad input answers 4xx with a precise message and changes nothing."""
from __future__ import annotations

import uuid

from tests.engines import ADMIN_HEADERS as ADMIN


def _dept(client, code, parent=None):
    r = client.post("/api/v1/access/departments", json={"code": code, "name": code, "kind": "branch",
                                                       "parent_id": parent}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_moving_a_department_under_its_own_subtree_is_refused(client):
    hq = _dept(client, "HQ")
    sh = _dept(client, "SH", hq)
    s1 = _dept(client, "S1", sh)
    r = client.post(f"/api/v1/access/departments/{hq}/move", json={"parent_id": s1}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"] == "parent_id" and "cycle" in r.json()["detail"]
    r = client.post(f"/api/v1/access/departments/{sh}/move", json={"parent_id": sh}, headers=ADMIN)
    assert r.status_code == 422 and "cycle" in r.json()["detail"]
    bj = _dept(client, "BJ", hq)
    ok = client.post(f"/api/v1/access/departments/{s1}/move", json={"parent_id": bj}, headers=ADMIN)
    assert ok.status_code == 200
    got = client.get(f"/api/v1/access/departments/{s1}", params={"wait_for_position": ok.json()["position"]},
                     headers=ADMIN).json()
    assert got["parent_id"] == bj


def test_closing_a_department_with_open_children_is_refused(client):
    hq = _dept(client, "HQ")
    _dept(client, "SH", hq)
    r = client.post(f"/api/v1/access/departments/{hq}/close", json={"reason": "restructure"}, headers=ADMIN)
    assert r.status_code == 422 and "sub-departments" in r.json()["detail"]


def test_duplicate_codes_and_login_names_are_409(client):
    hq = _dept(client, "HQ")
    r = client.post("/api/v1/access/departments", json={"code": "HQ", "name": "again", "kind": "branch"}, headers=ADMIN)
    assert r.status_code == 409 and r.json()["code"] == "already_exists" and "'HQ'" in r.json()["detail"]
    body = {"login_name": "zhang.wei", "display_name": "张伟", "department_id": hq}
    assert client.post("/api/v1/access/operators", json=body, headers=ADMIN).status_code == 201
    r = client.post("/api/v1/access/operators", json=body, headers=ADMIN)
    assert r.status_code == 409 and "zhang.wei" in r.json()["detail"]


def test_unknown_references_name_the_field(client):
    r = client.post("/api/v1/access/operators", headers=ADMIN, json={
        "login_name": "li.na", "display_name": "李娜", "department_id": str(uuid.uuid4())})
    assert r.status_code == 404 and r.json()["field"] == "department_id"
    hq = _dept(client, "HQ")
    op = client.post("/api/v1/access/operators", headers=ADMIN, json={
        "login_name": "li.na", "display_name": "李娜", "department_id": hq}).json()["id"]
    r = client.post(f"/api/v1/access/operators/{op}/roles", json={"roles": ["no_such_role"]}, headers=ADMIN)
    assert r.status_code == 404 and r.json()["field"] == "roles" and "no_such_role" in r.json()["detail"]
    r = client.put(f"/api/v1/access/operators/{op}/business-lines", json={"business_lines": ["futures_x"]},
                   headers=ADMIN)
    assert r.status_code == 404 and r.json()["field"] == "business_lines"
    r = client.post("/api/v1/access/roles", json={"key": "ops", "name": "Ops", "permissions": ["launch.rockets"]},
                    headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"] == "permissions" and "launch.rockets" in r.json()["detail"]


def test_weak_passwords_are_refused_with_the_rule_broken(client):
    hq = _dept(client, "HQ")
    for password, needs in [("short1A!", "at least 10"), ("alllowercase123", "three of"),
                            ("Wang.Fang-2026", "login name")]:
        r = client.post("/api/v1/access/operators", headers=ADMIN, json={
            "login_name": "wang.fang", "display_name": "王芳", "department_id": hq, "password": password})
        assert r.status_code == 422 and r.json()["field"] == "password" and needs in r.json()["detail"], r.text


def test_malformed_fields_are_422_with_their_path(client):
    hq = _dept(client, "HQ")
    r = client.post("/api/v1/access/operators", headers=ADMIN, json={
        "login_name": "Bad Name", "display_name": "", "department_id": hq, "phone": "12345", "email": "nope"})
    fields = {e["field"] for e in r.json()["errors"]}
    assert r.status_code == 422 and {"display_name", "phone", "email"} <= fields
    r = client.post("/api/v1/access/field-rules", headers=ADMIN, json={
        "resource": "access.operator", "field": "phone", "effect": "masked"})
    assert r.status_code == 422 and r.json()["field"] == "mask"


def test_wrong_password_and_unknown_login_look_the_same(client):
    hq = _dept(client, "HQ")
    client.post("/api/v1/access/operators", headers=ADMIN, json={
        "login_name": "sun.li", "display_name": "孙丽", "department_id": hq, "password": "Strong-Pass-2026"})
    a = client.post("/api/v1/auth/login", json={"login_name": "sun.li", "password": "Wrong-Pass-2026"})
    b = client.post("/api/v1/auth/login", json={"login_name": "nobody", "password": "Wrong-Pass-2026"})
    assert a.status_code == b.status_code == 401 and a.json()["detail"] == b.json()["detail"]
