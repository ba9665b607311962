"""E-signature over HTTP: the tenant signs through the public link without logging in, the seal
verifies, and the signed agreement appears in the customer and business views of SALES, OPS,
CLEARING and FINANCE (004 22. 协议归档). The public endpoints answer every garbage token with a
4xx, declare their statuses, and throttle guessing."""
from __future__ import annotations

import pytest

from application.signatures.hook import ESignHook
from domain.signatures.consent import CONSENT_VERSION
from tests.signing_helpers import SETUP, SIGNER, TENANT, archived_agreement, hook_request, link_for

PASSWORD = "Signing-Links-2026"
BROWSER = {"User-Agent": "Mozilla/5.0 (tenant's phone)"}


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
def firm(client, live_container):
    """HQ with SH01 (SALES) and the OPS, CLEARING and FINANCE departments, scoped as in the demo:
    a seller sees their branch, the back office the whole firm."""
    app = live_container
    app.access.create_business_line(SETUP, "brokerage", "Brokerage")
    hq = app.access.create_department(SETUP, "HQ", "HQ", "head_office", None).id
    dept = {code: app.access.create_department(SETUP, code, code, kind, hq).id
            for code, kind in (("SH01", "branch"), ("OPS", "other"), ("CLEAR", "other"), ("FIN", "other"))}
    app.access.create_role(SETUP, "reader", "reader", ["archive.documents.read"])
    headers = {}
    for login, department, scope in (("sam", "SH01", dept["SH01"]), ("olga", "OPS", hq), ("clara", "CLEAR", hq),
                                     ("fiona", "FIN", hq)):
        op = app.access.create_operator(SETUP, login, login, dept[department], None, None, PASSWORD).id
        app.access.grant_roles(SETUP, op, ["reader"])
        app.access.set_business_lines(SETUP, op, ["brokerage"])
        app.access.set_data_scope(SETUP, op, [{"department_id": str(scope), "include_children": True}], [])
    assert app.progress.wait_for(list(app.runners), app.store.head(), 10)
    for login in ("sam", "olga", "clara", "fiona"):
        token = ok(client.post("/api/v1/auth/login", json={"login_name": login, "password": PASSWORD}))
        headers[login] = {"Authorization": f"Bearer {token['access_token']}"}
    return app, headers, dept["SH01"]


def test_the_tenant_signs_through_the_link_and_all_four_departments_see_the_signed_pdf(client, firm, auth):
    app, headers, sh01 = firm
    request = hook_request(archived_agreement(app, sh01), sh01)
    link = link_for(app.signatures, ESignHook(app.signatures).run(request))

    page = ok(client.get(link, headers=BROWSER))   # no Authorization: the link is the credential
    assert (page["signer_name"], page["consent_version"]) == (SIGNER, CONSENT_VERSION)
    pdf = client.get(page["document"], headers=BROWSER)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].startswith("attachment") and pdf.headers["cache-control"] == "no-store"
    signed = ok(client.post(link, headers=BROWSER, json={"signer_name": SIGNER, "consent": True,
                                                         "consent_version": CONSENT_VERSION}))
    assert signed["status"] == "sealed"
    reused = client.post(link, headers=BROWSER, json={"signer_name": SIGNER, "consent": True,
                                                      "consent_version": CONSENT_VERSION})
    assert (reused.status_code, reused.json()["code"]) == (409, "signing_link_used")

    position = app.store.head()
    for login, who in headers.items():
        by_customer = ok(client.get(f"/api/v1/archive/customers/{TENANT}/documents",
                                    params={"wait_for_position": position}, headers=who))
        shas = {d["sha256"] for d in by_customer["customer_level"]}
        assert signed["sha256"] in shas, login
        business = ok(client.get("/api/v1/archive/business", params={"flow_instance": str(request.instance_id)},
                                 headers=who))
        docs = [d for g in business["items"] for a in g["accounts"] for d in a["documents"]]
        assert [d["sha256"] for d in docs] == [signed["sha256"]], login

    detail = ok(client.get(f"/api/v1/signatures/requests/{signed['request_id']}",
                           params={"wait_for_position": position}, headers=auth))
    assert [s["kind"] for s in detail["trail"]] == ["requested", "link_reissued", "viewed", "signed", "sealed"]
    assert detail["trail"][2]["detail"]["user_agent"] == BROWSER["User-Agent"]
    report = ok(client.get(f"/api/v1/signatures/documents/{detail['signed_document_id']}/verification",
                           headers=auth))
    assert report["valid"] and report["development_certificate"] and report["sha256"] == signed["sha256"]
    assert report["sealed_by_request"] == signed["request_id"]


def test_staff_ask_list_and_revoke_and_a_revoked_link_is_gone(client, live_container, auth):
    live_container.access.create_business_line(SETUP, "brokerage", "Brokerage")
    document_id = archived_agreement(live_container, None)
    issued = ok(client.post("/api/v1/signatures/requests", headers=auth,
                            json={"document_id": str(document_id), "signer_name": SIGNER}), 201)
    listed = ok(client.get("/api/v1/signatures/requests", params={"wait_for_position": issued["position"]},
                           headers=auth))
    assert [r["id"] for r in listed["items"]] == [issued["request_id"]]
    assert "token_hash" not in listed["items"][0]
    ok(client.post(f"/api/v1/signatures/requests/{issued['request_id']}/revoke", headers=auth,
                   json={"reason": "wrong agreement"}))
    gone = client.get(issued["link"])
    assert (gone.status_code, gone.json()["code"]) == (410, "signing_link_revoked")
    again = client.post(f"/api/v1/signatures/requests/{issued['request_id']}/revoke", headers=auth,
                        json={"reason": "again"})
    assert again.status_code == 409
    assert client.get("/api/v1/signatures/requests").status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/sign/x", "/api/v1/sign/" + "A" * 43, "/api/v1/sign/" + "A" * 43 + "/document",
                                  "/api/v1/sign/%E9%93%BE" * 10, "/api/v1/sign/" + "a" * 500,
                                  "/api/v1/sign/..%2F..%2Fetc%2Fpasswd" + "a" * 30])
def test_garbage_links_never_answer_500(client, live_container, path):
    for method in ("GET", "POST"):
        r = client.request(method, path, json={"signer_name": "x", "consent": True, "consent_version": "v"})
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_guessing_links_is_throttled(client, live_container):
    live_container.settings.address_free_failures = 2
    statuses = [client.get("/api/v1/sign/" + f"{i:043d}").status_code for i in range(5)]
    assert statuses[:2] == [404, 404] and 429 in statuses


def test_the_public_endpoints_declare_their_statuses_and_no_security(client, live_container):
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in (("/api/v1/sign/{token}", "get"), ("/api/v1/sign/{token}", "post"),
                         ("/api/v1/sign/{token}/document", "get")):
        operation = paths[path][method]
        assert not operation.get("security")
        assert {"404", "409", "410", "422", "429"} <= set(operation["responses"]), (path, method)
