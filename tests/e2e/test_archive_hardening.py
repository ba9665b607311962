"""Attacks on the archive API found against `serve --demo`: typed metadata, ASCII-digit fund
accounts, no filename leaking through Content-Disposition, sandboxed content that is inline
only for images, numbers beyond what the stores hold."""
from __future__ import annotations

import orjson

from tests.archive_samples import pdf, png
from tests.e2e.archive_client import DOCS, SETUP, ok, operator_headers, send
from tests.engines import ADMIN_HEADERS as ADMIN

FULL_WIDTH, ARABIC_INDIC = "８８００５６７８", "٨٨٠٠٥٦٧٨"


def _patch(client, doc, changes):
    return client.patch(f"{DOCS}/{doc}/metadata", headers={**ADMIN, "Content-Type": "application/json"},
                        content=changes if isinstance(changes, bytes) else orjson.dumps({"changes": changes}))


def test_archive_metadata_of_the_wrong_type_or_an_unknown_key_is_refused_with_422(archive_api):
    client, _ = archive_api
    doc = ok(send(client, png(), "a.png", "image/png", customer="88001234"), 201)["id"]
    for changes, field in (({"document_date": "yesterday"}, "document_date"), ({"tags": "abc"}, "tags"),
                           ({"tags": [1]}, "tags"), ({"tags": ["x" * 31]}, "tags"), ({"note": 5}, "note"),
                           ({"title": {"a": 1}}, "title"), ({"colour": "red"}, "colour")):
        r = _patch(client, doc, changes)
        assert r.status_code == 422, (changes, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in (r.json().get("field") or ""), (changes, r.json())
    nan = _patch(client, doc, b'{"changes": {"note": NaN}}')
    assert nan.status_code == 422, nan.text
    edited = ok(_patch(client, doc, {"document_date": "2026-03-01", "tags": ["opening"], "note": "ok"}))
    shown = ok(client.get(f"{DOCS}/{doc}", headers=ADMIN, params={"wait_for_position": edited["position"]}))
    assert shown["metadata"] == {"document_date": "2026-03-01", "tags": ["opening"], "note": "ok"}


def test_a_fund_account_of_full_width_or_arabic_indic_digits_is_refused(archive_api):
    client, _ = archive_api
    for account in (FULL_WIDTH, ARABIC_INDIC, "8800567\n", "12345"):
        r = send(client, png(), "a.png", "image/png", fund_account=account)
        assert r.status_code == 422 and r.json()["field"] == "fund_account", (account, r.text)
        q = client.get("/api/v1/archive/business", headers=ADMIN, params={"fund_account": account})
        assert q.status_code == 422 and q.json()["field"] == "fund_account", (account, q.text)
    r = send(client, png(), "a.png", "image/png", customer=FULL_WIDTH)
    assert r.status_code == 422 and r.json()["field"] == "customer"
    assert client.get(f"/api/v1/archive/customers/{FULL_WIDTH}/documents", headers=ADMIN).status_code == 422
    ok(send(client, png(), "a.png", "image/png", fund_account="88005678"), 201)


def test_a_filename_hidden_by_a_field_rule_does_not_leak_through_the_download_name(archive_api):
    client, app = archive_api
    hq = app.access.create_department(SETUP, "HQ", "HQ", "head_office", None).id
    reader = operator_headers(client, app, "rita", ["archive.documents.read"], ["brokerage"], hq)
    doc = ok(send(client, png(), "张三-身份证.png", "image/png", customer="88001234", department_id=str(hq)), 201)
    seen = client.get(f"{DOCS}/{doc['id']}/content", headers=reader, params={"download": "true"})
    assert seen.status_code == 200 and "%E5%BC%A0%E4%B8%89" in seen.headers["content-disposition"]
    rule = app.access.define_field_rule(SETUP, "archive.document", "filename", "hidden", None, ["rita_role"], [],
                                        [], [])
    shown = ok(client.get(f"{DOCS}/{doc['id']}", headers=reader, params={"wait_for_position": rule.position}))
    assert "filename" not in shown and all("filename" not in v for v in shown["versions"])
    for params in ({"download": "true"}, {}):
        r = client.get(f"{DOCS}/{doc['id']}/content", headers=reader, params=params)
        assert r.status_code == 200
        disposition = r.headers["content-disposition"]
        assert "%E5%BC%A0" not in disposition and "身份证" not in disposition
        assert f'filename="document-{doc["id"]}.png"' in disposition
    admin = client.get(f"{DOCS}/{doc['id']}/content", headers=ADMIN, params={"download": "true"})
    assert "%E5%BC%A0%E4%B8%89" in admin.headers["content-disposition"]  # the rule applies to rita only


def test_only_images_are_served_inline_and_every_content_response_is_sandboxed(archive_api):
    client, _ = archive_api
    image = ok(send(client, png(), "a.png", "image/png", customer="88001234"), 201)
    document = ok(send(client, pdf(), "risk.pdf", "application/pdf", customer="88001234"), 201)
    cases = ((image, {}, "inline"), (image, {"download": "true"}, "attachment"),
             (document, {}, "attachment"), (document, {"download": "false"}, "attachment"))
    for doc, params, kind in cases:
        r = client.get(f"{DOCS}/{doc['id']}/content", headers=ADMIN, params=params)
        assert r.status_code == 200
        assert r.headers["content-disposition"].startswith(kind + ";"), (doc["media_type"], params)
        assert r.headers["content-security-policy"] == "sandbox"
        assert r.headers["x-content-type-options"] == "nosniff"
        again = client.get(f"{DOCS}/{doc['id']}/content", headers={**ADMIN, "If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.headers["content-security-policy"] == "sandbox"


def test_numbers_beyond_what_the_stores_hold_answer_422(archive_api):
    client, _ = archive_api
    doc = ok(send(client, png(), "a.png", "image/png", customer="88001234"), 201)["id"]
    for version in (str(2**63), "1e20", "0"):
        r = client.get(f"{DOCS}/{doc}/content", headers=ADMIN, params={"version": version})
        assert r.status_code == 422 and r.json()["field"] == "version", r.text
    r = client.post(f"/api/v1/archive/sync/batches/B-1/anomalies/{2**63}/resolve", headers=ADMIN,
                    json={"resolution": "dismissed"})
    assert r.status_code == 422 and r.json()["field"] == "index", r.text


def test_the_archive_openapi_declares_typed_responses_and_the_content_media_types(archive_api):
    client, _ = archive_api
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    detail = paths["/api/v1/archive/documents/{document_id}"]["get"]["responses"]
    assert detail["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/DocumentPublic")
    assert "404" in detail
    content = paths["/api/v1/archive/documents/{document_id}/content"]["get"]["responses"]["200"]["content"]
    assert {"image/png", "application/pdf"} <= set(content)
    assert "application/zip" in paths["/api/v1/archive/exports/{export_id}/download"]["get"]["responses"]["200"][
        "content"]
    untyped = []
    for path, methods in paths.items():
        if not path.startswith(("/api/v1/archive", "/api/v1/leads")):
            continue
        for method, op in methods.items():
            for status in ("200", "201"):
                schema = op["responses"].get(status, {}).get("content", {}).get("application/json", {}).get("schema")
                if schema is not None and _untyped(schema):
                    untyped.append(f"{method.upper()} {path}")
    assert untyped == []


def _untyped(schema: dict) -> bool:  # {} or a free-form object (or a list of them)
    if schema.get("type") == "array":
        return _untyped(schema.get("items") or {})
    if "$ref" in schema or "anyOf" in schema or "properties" in schema:
        return False
    extra = schema.get("additionalProperties", True)
    return schema.get("type") in (None, "object") and (extra is True or extra == {})
