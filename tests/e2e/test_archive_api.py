"""The image archive through the HTTP API: the full history of a document in the customer view
with byte-identical downloads of every version, refusals of bad input, the third-party archive
API with an API token, and automatic archiving when a flow instance completes."""
from __future__ import annotations

import hashlib
import time

import pytest

from interfaces.demo_forms import field
from tests.archive_samples import jpeg, pdf, png
from tests.e2e.archive_client import DOCS, LIMIT, PASSWORD, SETUP, ok, operator_headers, send
from tests.engines import ADMIN_HEADERS as ADMIN


def test_upload_version_reclassify_delete_restore_is_one_ordered_history_and_every_version_downloads_intact(archive_api):
    client, _ = archive_api
    first, second = png(), jpeg()
    up = ok(send(client, first, "身份证正面.png", "image/png", customer="88001234", fund_account="88001234"), 201)
    doc = up["id"]
    assert up["sha256"] == hashlib.sha256(first).hexdigest() and up["media_type"] == "image/png"
    stale = send(client, second, "rescan.jpg", "image/jpeg", headers={**ADMIN, "If-Match": '"7"'},
                 url=f"{DOCS}/{doc}/versions", comment="rescanned")
    assert stale.status_code == 409
    v2 = ok(send(client, second, "rescan.jpg", "image/jpeg", headers={**ADMIN, "If-Match": '"1"'},
                 url=f"{DOCS}/{doc}/versions", comment="rescanned"), 201)
    ok(client.post(f"{DOCS}/{doc}/reclassify", headers=ADMIN, json={"category": "id_card_front", "reason": "finer"}))
    ok(client.patch(f"{DOCS}/{doc}/metadata", headers=ADMIN, json={"changes": {"title": "身份证正面"}}))
    ok(client.post(f"{DOCS}/{doc}/delete", headers=ADMIN, json={"reason": "wrong customer?"}))
    restored = ok(client.post(f"{DOCS}/{doc}/restore", headers=ADMIN, json={"reason": "it was right"}))
    customer_level = ok(send(client, pdf(), "风险揭示书.pdf", "application/pdf", customer="88001234"), 201)

    view = ok(client.get("/api/v1/archive/customers/88001234/documents", headers=ADMIN,
                         params={"wait_for_position": customer_level["position"]}))
    assert restored["position"] < customer_level["position"]
    assert [d["id"] for d in view["customer_level"]] == [customer_level["id"]]
    assert [a["fund_account"] for a in view["accounts"]] == ["88001234"]
    shown = view["accounts"][0]["documents"][0]
    assert shown["id"] == doc and shown["level"] == "account" and shown["category"] == "id_card_front"
    assert [h["kind"] for h in shown["history"]] == ["uploaded", "version_added", "reclassified", "metadata_edited",
                                                     "deleted", "restored"]
    assert [h["seq"] for h in shown["history"]] == [1, 2, 3, 4, 5, 6]
    assert shown["history"][4]["detail"] == {"reason": "wrong customer?"}
    assert [(v["number"], v["sha256"]) for v in shown["versions"]] == [(1, up["sha256"]), (2, v2["sha256"])]

    for number, body, ctype in [(1, first, "image/png"), (2, second, "image/jpeg")]:
        r = client.get(f"{DOCS}/{doc}/content", params={"version": number}, headers=ADMIN)
        assert r.status_code == 200 and r.headers["content-type"] == ctype
        assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(body).hexdigest()
        assert r.headers["etag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    current = client.get(f"{DOCS}/{doc}/content", params={"download": True}, headers=ADMIN)
    assert current.content == second and "filename*=UTF-8''rescan.jpg" in current.headers["content-disposition"]
    first_name = client.get(f"{DOCS}/{doc}/content", params={"version": 1}, headers=ADMIN).headers
    assert "filename*=UTF-8''%E8%BA%AB%E4%BB%BD%E8%AF%81%E6%AD%A3%E9%9D%A2.png" in first_name["content-disposition"]
    cached = client.get(f"{DOCS}/{doc}/content", headers={**ADMIN, "If-None-Match": current.headers["etag"]})
    assert cached.status_code == 304
    detail = ok(client.get(f"{DOCS}/{doc}", headers=ADMIN))
    assert detail["metadata"] == {"title": "身份证正面"} and detail["status"] == "active"


@pytest.mark.parametrize("name,body,ctype,status,code", [
    ("../../etc/passwd.png", png(), "image/png", 422, "unsafe_filename"),
    ("CON.png", png(), "image/png", 422, "unsafe_filename"),
    ("empty.png", b"", "image/png", 422, "empty_file"),
    ("huge.png", png(LIMIT), "image/png", 413, "payload_too_large"),
    ("a-pdf.png", pdf(), "image/png", 415, "media_type_mismatch"),
    ("a-pdf-named.png", pdf(), "application/octet-stream", 415, "media_type_mismatch"),
    ("program.jpg", b"MZ\x90\x00" + bytes(4000), "image/jpeg", 415, "unsupported_media_type"),
    ("notes.jpg", b"just some text, not an image\n" * 20, "image/jpeg", 415, "unsupported_media_type"),
])
def test_bad_uploads_are_refused_with_a_clear_error(archive_api, name, body, ctype, status, code):
    client, container = archive_api
    r = send(client, body, name, ctype, customer="88001234")
    assert r.status_code == status, r.text
    assert r.json()["code"] == code and r.json()["detail"]
    assert not list(container.archive.blobs.hashes()) and not list(container.archive.blobs.tmp.iterdir())


def test_a_body_beyond_the_upload_limit_is_cut_off_by_the_server(archive_api):
    client, _ = archive_api
    r = send(client, png(LIMIT + 200_000), "big.png", "image/png", customer="88001234")
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


def test_a_third_party_system_archives_with_an_api_token(archive_api):
    client, _ = archive_api
    issued = ok(client.post("/api/v1/access/api-tokens", headers=ADMIN, json={
        "name": "cloud-archive", "permissions": ["archive.documents.upload", "archive.documents.read"],
        "business_lines": ["brokerage"]}), 201)
    system = {"Authorization": f"Bearer {issued['token']}"}
    body = jpeg()
    up = ok(send(client, body, "88001234_20260101_11.jpg", "image/jpeg", headers=system, customer="88001234",
                 fund_account="88001234", category="head_photo"), 201)
    detail = ok(client.get(f"{DOCS}/{up['id']}", headers=system, params={"wait_for_position": up["position"]}))
    assert detail["source"] == "api" and detail["uploaded_by"] == f"api_token:{issued['id']}"
    assert client.get(f"{DOCS}/{up['id']}/content", headers=system).content == body
    denied = client.post(f"{DOCS}/{up['id']}/delete", headers=system, json={"reason": "x"})
    assert denied.status_code == 403
    other_line = send(client, body, "x.jpg", "image/jpeg", headers=system, business_line="futures_ib",
                      customer="88001234")
    assert other_line.status_code == 403


ATTACHMENT_FORM = {
    "type": "object",
    "properties": {
        "reason": field("Input", "原因 Reason"),
        "attachments": field("Attachment", "影像资料 Documents", "array", items={
            "type": "object", "required": ["document_id"], "properties": {"document_id": {"type": "string"}}}),
    },
    "required": ["reason"],
}
REVIEW_FLOW = {
    "nodes": [{"id": "start", "type": "start", "name": "申请 Apply"},
              {"id": "review", "type": "approval", "name": "运营审核 OPS review", "mode": "single",
               "assignees": [{"kind": "role", "value": "ops"}]},
              {"id": "end", "type": "end", "name": "完成 Done"}],
    "edges": [{"source": "start", "target": "review"}, {"source": "review", "target": "end"}],
}


def test_completing_a_flow_files_its_attachments_under_the_customer_and_the_business(archive_api):
    client, app = archive_api
    hq = app.access.create_department(SETUP, "HQ", "HQ", "head_office", None).id
    app.access.create_role(SETUP, "ops", "ops", ["flows.instances.view", "flows.tasks.handle"])
    app.access.create_role(SETUP, "sales", "sales", ["flows.instances.start", "flows.instances.view",
                                                     "archive.documents.upload", "archive.documents.read"])
    for login, role in (("olga", "ops"), ("sam", "sales")):
        op = app.access.create_operator(SETUP, login, login, hq, None, None, PASSWORD).id
        app.access.grant_roles(SETUP, op, [role])
        app.access.set_business_lines(SETUP, op, ["brokerage"])
        app.access.set_data_scope(SETUP, op, [{"department_id": str(hq), "include_children": True}], [])
    app.forms.create_business_type(SETUP, "address_change", "地址变更", "brokerage", "", ["individual"])
    app.forms.save_draft(SETUP, "address_change", "individual", ATTACHMENT_FORM, None)
    app.forms.publish(SETUP, "address_change", None)
    app.flows.create_definition(SETUP, "address_change", "地址变更", "address_change", "brokerage", "")
    app.flows.save_draft(SETUP, "address_change", REVIEW_FLOW, {"deduplication": "none", "empty_assignee": "block"},
                         None)
    published = app.flows.publish(SETUP, "address_change", None)[0]
    assert app.progress.wait_for(list(app.runners), published.position, 10)
    olga_auth, sam_auth = ({"Authorization": "Bearer " + ok(client.post("/api/v1/auth/login", json={
        "login_name": login, "password": PASSWORD}))["access_token"]} for login in ("olga", "sam"))

    # Uploaded while the business is pending: known only by line and category, filed nowhere yet.
    bodies = [png(), pdf()]
    uploads = [ok(send(client, b, n, t, headers=sam_auth, category=c), 201) for b, n, t, c in
               [(bodies[0], "id.png", "image/png", "id_card"), (bodies[1], "proof.pdf", "application/pdf", "proof")]]
    started = ok(client.post("/api/v1/flows/instances", headers=sam_auth, json={
        "definition": "address_change", "subject": "individual", "title": "地址变更 88001234",
        "fund_account": "88001234",
        "data": {"reason": "moved", "attachments": [{"document_id": u["id"]} for u in uploads]}}), 201)
    todo = ok(client.get("/api/v1/flows/todo", headers=olga_auth, params={"wait_for_position": started["position"]}))
    assert todo["items"], str(ok(client.get(f"/api/v1/flows/instances/{started['id']}", headers=ADMIN)))
    task = todo["items"][0]
    approved = ok(client.post(f"/api/v1/flows/instances/{started['id']}/tasks/{task['task_id']}/approve",
                              headers=olga_auth, json={"comment": "ok"}))
    assert ok(client.get(f"/api/v1/flows/instances/{started['id']}", headers=ADMIN,
                         params={"wait_for_position": approved["position"]}))["status"] == "completed"

    deadline, business = time.monotonic() + 15, {"items": []}
    while time.monotonic() < deadline:
        business = ok(client.get("/api/v1/archive/business", headers=ADMIN,
                                 params={"flow_instance": started["id"]}))
        if business["items"] and len(business["items"][0]["accounts"][0]["documents"]) == 2:
            break
        time.sleep(0.2)
    [submission] = business["items"]
    assert submission["business_type"] == "address_change" and submission["flow_instance"] == started["id"]
    [account] = submission["accounts"]
    assert account["fund_account"] == "88001234"
    assert sorted(d["id"] for d in account["documents"]) == sorted(u["id"] for u in uploads)

    view = ok(client.get("/api/v1/archive/customers/88001234/documents", headers=ADMIN))
    filed = view["accounts"][0]["documents"]
    assert len(filed) == 2 and all(d["history"][-1]["kind"] == "filed" for d in filed)
    assert {d["history"][-1]["actor"] for d in filed} == {"system:archive-filing"}

    # Rebuilding the process manager from 0 files nothing twice.
    runner = app.runners["archive.filing"]
    head = app.store.head()
    runner.reset()
    deadline = time.monotonic() + 15
    while runner.position() < head and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runner.position() >= head and app.store.head() == head


def test_exports_and_scope_through_the_api(archive_api):
    client, app = archive_api
    app.access.create_business_line(SETUP, "futures_ib", "IB")
    hq = app.access.create_department(SETUP, "HQ", "HQ", "head_office", None).id
    app.access.create_role(SETUP, "reader", "reader", ["archive.documents.read"])
    reader = app.access.create_operator(SETUP, "rita", "Rita", hq, None, None, PASSWORD).id
    app.access.grant_roles(SETUP, reader, ["reader"])
    app.access.set_business_lines(SETUP, reader, ["brokerage"])
    app.access.set_data_scope(SETUP, reader, [{"department_id": str(hq), "include_children": True}], [])
    mine = ok(send(client, png(), "a.png", "image/png", customer="88001234", department_id=str(hq)), 201)
    other = ok(send(client, png(), "b.png", "image/png", customer="88001234", business_line="futures_ib",
                    department_id=str(hq)), 201)
    rita = {"Authorization": "Bearer " + ok(client.post("/api/v1/auth/login", json={
        "login_name": "rita", "password": PASSWORD}))["access_token"]}
    seen = ok(client.get("/api/v1/archive/customers/88001234/documents", headers=rita,
                         params={"wait_for_position": other["position"]}))
    assert [d["id"] for d in seen["customer_level"]] == [mine["id"]]
    hidden = client.get(f"{DOCS}/{other['id']}/content", headers=rita)
    assert hidden.status_code == 404  # another business line: as if it did not exist
    assert client.post("/api/v1/archive/exports", headers=rita, json={"rule": {}}).status_code == 403

    ok(client.post("/api/v1/archive/export-rules", headers=ADMIN, json={
        "key": "csrc_2026", "name": "2026 报备", "business_line": "brokerage",
        "rule": {"customers": ["88001234"], "date_from": "2026-01-01"}}), 201)
    produced = ok(client.post("/api/v1/archive/exports", headers=ADMIN,
                              json={"rule_key": "csrc_2026", "purpose": "年度报备"}), 201)
    assert produced["count"] == 1  # the futures_ib document is outside the rule's line
    package = client.get(produced["download"], headers=ADMIN)
    assert hashlib.sha256(package.content).hexdigest() == produced["zip_sha256"]
    listed = ok(client.get("/api/v1/archive/exports", headers=ADMIN,
                           params={"wait_for_position": produced["position"]}))
    assert listed[0]["actor"] == "admin:bootstrap" and listed[0]["rule_key"] == "csrc_2026"
    bad = client.post("/api/v1/archive/exports", headers=ADMIN, json={"rule": {"date_from": "soon"}})
    assert bad.status_code == 422 and bad.json()["field"] == "date_from"


def test_bulk_mount_and_cloud_batch_over_http(archive_api):
    import io
    import json
    import zipfile

    client, app = archive_api
    app.forms.sync_customers(SETUP, [{"fund_account": "88001234", "name": "张三"}])
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.png", bytes(20 << 20))   # 20 MB of zeros, about 20 KB compressed
        zf.writestr("manifest.csv", "filename,business_line\nzeros.png,brokerage\n")
    refused = client.post("/api/v1/archive/mounts", headers=ADMIN,
                          files={"file": ("history.zip", bomb.getvalue(), "application/zip")})
    assert refused.status_code == 422 and refused.json()["code"] == "unsafe_archive"
    assert "zeros.png" in refused.json()["detail"]

    good = io.BytesIO()
    body = jpeg()
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("88001234_20190301_11.jpg", body)
        zf.writestr("manifest.csv", "filename,customer,fund_account,business_line,category\n"
                                    "88001234_20190301_11.jpg,88001234,88001234,brokerage,head_photo\n")
    report = ok(client.post("/api/v1/archive/mounts", headers=ADMIN,
                            files={"file": ("history.zip", good.getvalue(), "application/zip")}))
    assert report["imported"] == 1 and report["files"][0]["sha256"] == hashlib.sha256(body).hexdigest()

    batch = io.BytesIO()
    with zipfile.ZipFile(batch, "w") as zf:
        zf.writestr("a.png", png())
        zf.writestr("manifest.json", json.dumps({"batch_id": "B-1", "business_line": "brokerage", "files": [
            {"file": "a.png", "sha256": "0" * 64, "fund_account": "88001234"}]}))
    imported = ok(client.post("/api/v1/archive/sync/batches", headers=ADMIN,
                              files={"file": ("b.zip", batch.getvalue(), "application/zip")}), 201)
    assert imported["anomalies"] == 1 and imported["entries"][0]["anomaly"] == "hash_mismatch"
    anomalies = ok(client.get("/api/v1/archive/sync/anomalies", headers=ADMIN,
                              params={"wait_for_position": imported["position"]}))
    assert [(a["batch_id"], a["anomaly"]) for a in anomalies] == [("B-1", "hash_mismatch")]
    ok(client.post("/api/v1/archive/sync/batches/B-1/anomalies/1/resolve", headers=ADMIN,
                   json={"resolution": "fixed_at_source", "note": "平台重新推送"}))


# -- security review regressions (C1, H1-H6, M1, M3-M5, L4) ------------------------------------------------
def _zip(members, **kw):
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", **kw) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_an_export_package_is_listed_and_downloaded_only_by_callers_who_see_every_document_in_it(archive_api):
    """C1: neither a package without a business line nor one of the caller's line but holding
    another department's documents is visible to a scoped exporter."""
    client, app = archive_api
    app.access.create_business_line(SETUP, "futures_ib", "IB")
    hq = app.access.create_department(SETUP, "HQ", "HQ", "head_office", None).id
    br = app.access.create_department(SETUP, "BR", "BR", "branch", None).id
    up = ok(send(client, png(), "secret.png", "image/png", customer="99990000", department_id=str(hq)), 201)
    lineless = ok(client.post("/api/v1/archive/exports", headers=ADMIN, json={"rule": {}},
                              params={"wait_for_position": up["position"]}), 201)
    same_line = ok(client.post("/api/v1/archive/exports", headers=ADMIN,
                               json={"rule": {}, "business_line": "brokerage"}), 201)
    other_line = operator_headers(client, app, "eve", ["archive.documents.export"], ["futures_ib"], br)
    other_dept = operator_headers(client, app, "tom", ["archive.documents.export"], ["brokerage"], br)
    insider = operator_headers(client, app, "ida", ["archive.documents.export"], ["brokerage"], hq)
    for who in (other_line, other_dept):
        listed = ok(client.get("/api/v1/archive/exports", headers=who,
                               params={"wait_for_position": same_line["position"]}))
        assert listed == []
        for produced in (lineless, same_line):
            assert client.get(produced["download"], headers=who).status_code == 404
    seen = ok(client.get("/api/v1/archive/exports", headers=insider))
    assert {e["id"] for e in seen} == {lineless["id"], same_line["id"]} and "reach" not in seen[0]
    assert client.get(same_line["download"], headers=insider).status_code == 200


def test_intake_refuses_nul_path_and_formula_values_and_json_in_any_case_is_screened(archive_api):
    """H1, H2, H6: nothing a read model cannot hold (NUL) and no customer/account that is not a
    plain identifier is stored, whatever the Content-Type spelling; the read model keeps up."""
    client, _ = archive_api
    for fields in ({"title": "x\x00y"}, {"customer": "../../../../tmp/pwned"},
                   {"customer": "88001234", "fund_account": '=HYPERLINK("http://x")'},
                   {"customer": "88001234", "business_type": "bad\x00type"}):
        r = send(client, png(), "a.png", "image/png", **fields)
        assert r.status_code == 422, (fields, r.text)
    up = ok(send(client, png(), "a.png", "image/png", customer="88001234"), 201)
    bad_version = send(client, jpeg(), "b.jpg", "image/jpeg", url=f"{DOCS}/{up['id']}/versions", comment="c\x00")
    assert bad_version.status_code == 422
    for ctype in ("APPLICATION/JSON", "application/merge-patch+json", None):
        headers = {**ADMIN, "Content-Type": ctype} if ctype else ADMIN
        r = client.patch(f"{DOCS}/{up['id']}/metadata", headers=headers,
                         content=b'{"changes": {"title": "a\\u0000b"}}')
        assert r.status_code == 422 and r.json()["code"] == "nul_character", (ctype, r.text)
    later = ok(send(client, png(), "b.png", "image/png", customer="88001234"), 201)
    assert ok(client.get(f"{DOCS}/{later['id']}", headers=ADMIN,
                         params={"wait_for_position": later["position"], "wait_timeout": 5}))["id"] == later["id"]


def test_the_raised_upload_limit_is_granted_only_to_authenticated_requests(archive_api):
    """H3: without a valid bearer token a bulk route keeps the small body limit (413), so an
    anonymous client cannot spool large bodies to disk before authentication."""
    client, app = archive_api
    limit = app.settings.max_body_bytes

    def body():
        yield b'--bb\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n\r\n'
        for _ in range(3):
            yield b"x" * limit
        yield b"\r\n--bb--\r\n"

    for headers in ({}, {"Authorization": "Bearer lf_at_not-a-real-token"}):
        r = client.post("/api/v1/archive/mounts", headers={**headers, "Content-Type": "multipart/form-data; boundary=bb"},
                        content=body())
        assert r.status_code == 413 and r.json()["code"] == "payload_too_large", r.text
    authenticated = client.post("/api/v1/archive/mounts", headers={**ADMIN,
                                "Content-Type": "multipart/form-data; boundary=bb"}, content=body())
    assert authenticated.status_code == 422  # past the body limit; the zip itself is refused


def test_bomb_and_broken_manifests_are_refused_before_they_are_expanded(archive_api):
    """H4, M5: a highly compressed manifest is judged from the central directory (422, never
    read whole); a corrupt member fails its row only."""
    client, app = archive_api
    app.forms.sync_customers(SETUP, [{"fund_account": "88001234", "name": "张三"}])
    deflated = {"compression": __import__("zipfile").ZIP_DEFLATED}
    mount_bomb = _zip({"manifest.csv": "filename,business_line\n" + " " * (4 << 20)}, **deflated)
    sync_bomb = _zip({"manifest.json": '{"batch_id": "x", "files": []}' + " " * (4 << 20)}, **deflated)
    assert len(mount_bomb) < 50_000 and len(sync_bomb) < 50_000
    r = client.post("/api/v1/archive/mounts", headers=ADMIN, files={"file": ("m.zip", mount_bomb, "application/zip")})
    assert r.status_code == 422 and r.json()["code"] == "unsafe_archive" and "manifest.csv" in r.json()["detail"]
    r = client.post("/api/v1/archive/sync/batches", headers=ADMIN,
                    files={"file": ("s.zip", sync_bomb, "application/zip")})
    assert r.status_code == 422 and r.json()["code"] == "invalid_batch" and "zip bomb" in r.json()["detail"]

    raw = bytearray(_zip({"a.jpg": jpeg(), "b.jpg": jpeg(),
                          "manifest.csv": "filename,business_line\na.jpg,brokerage\nb.jpg,brokerage\n"}))
    raw[raw.find(b"b.jpg") + 105] ^= 0xFF   # corrupt b.jpg's stored bytes: a CRC error at its end
    report = ok(client.post("/api/v1/archive/mounts", headers=ADMIN,
                            files={"file": ("h.zip", bytes(raw), "application/zip")}))
    assert (report["imported"], report["failed"]) == (1, 1) and "cannot be read" in report["files"][1]["error"]


def test_sync_entries_are_typed_scoped_to_their_line_and_never_poison_the_read_model(archive_api):
    """H1, M1, M5: a non-text manifest value is a rejected_content anomaly; the duplicate check
    looks at the batch's own line and at the bytes received; a corrupt member is an anomaly and
    the batch is still recorded."""
    client, app = archive_api
    app.access.create_business_line(SETUP, "futures_ib", "IB")
    app.forms.sync_customers(SETUP, [{"fund_account": "88001234", "name": "张三"}])
    body = png()
    digest = hashlib.sha256(body).hexdigest()
    ok(send(client, body, "s.png", "image/png", business_line="futures_ib", customer="88001234"), 201)
    manifest = {"batch_id": "B-typed", "business_line": "brokerage", "files": [
        {"file": "a.png", "sha256": digest, "customer": "88001234", "fund_account": {"x": 1}},
        {"file": "a.png", "sha256": digest, "customer": "88001234"},           # other line has it: imported
        {"file": "a.png", "sha256": "1" * 64, "customer": "88001234"},         # claims other content
        {"file": "c.jpg", "sha256": "2" * 64, "customer": "88001234"}]}
    raw = bytearray(_zip({"a.png": body, "c.jpg": jpeg(), "manifest.json": __import__("json").dumps(manifest)}))
    raw[raw.find(b"c.jpg") + 105] ^= 0xFF
    imported = ok(client.post("/api/v1/archive/sync/batches", headers=ADMIN,
                              files={"file": ("b.zip", bytes(raw), "application/zip")}), 201)
    assert [e.get("anomaly") for e in imported["entries"]] == [
        "rejected_content", None, "hash_mismatch", "rejected_content"]
    anomalies = ok(client.get("/api/v1/archive/sync/anomalies", headers=ADMIN,
                              params={"wait_for_position": imported["position"], "wait_timeout": 5}))
    assert [a["index"] for a in anomalies] == [1, 3, 4]
    again = client.post("/api/v1/archive/sync/batches", headers=ADMIN,
                        files={"file": ("b.zip", bytes(raw), "application/zip")})
    assert again.status_code == 409
    # L1: a syncer of the same line but another department sees neither the batch nor its anomalies.
    branch = app.access.create_department(SETUP, "BR", "BR", "branch", None).id
    syd = operator_headers(client, app, "syd", ["archive.sync"], ["brokerage"], branch)
    assert ok(client.get("/api/v1/archive/sync/batches", headers=syd)) == []
    assert ok(client.get("/api/v1/archive/sync/anomalies", headers=syd)) == []
    assert client.post("/api/v1/archive/sync/batches/B-typed/anomalies/1/resolve", headers=syd,
                       json={"resolution": "dismissed"}).status_code == 404


def test_bad_cursors_rules_lines_and_flow_instances_are_client_errors(archive_api):
    """M3, M5, L4: never a 500, never a reference to something the caller cannot see."""
    import base64

    client, _ = archive_api
    for raw in (b'["nope","x"]', b'[{"a":1},[1]]'):
        r = client.get("/api/v1/archive/business", headers=ADMIN,
                       params={"cursor": base64.urlsafe_b64encode(raw).decode()})
        assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    for rule in ({"customers": 5}, {"customers": [{"a": 1}]}, {"customers": "abc"}, {"categories": [1]},
                 {"include_deleted": "yes"}, {"date_to": "9999-12-31"}):
        r = client.post("/api/v1/archive/exports", headers=ADMIN, json={"rule": rule})
        assert r.status_code == 422, (rule, r.text)
        r = client.post("/api/v1/archive/export-rules", headers=ADMIN, json={
            "key": "k", "name": "n", "business_line": "brokerage", "rule": rule})
        assert r.status_code == 422, (rule, r.text)
    unknown_line = client.post("/api/v1/archive/export-rules", headers=ADMIN, json={
        "key": "k", "name": "n", "business_line": "nope", "rule": {}})
    assert unknown_line.status_code == 404
    r = send(client, png(), "a.png", "image/png", customer="88001234",
             flow_instance="00000000-0000-4000-8000-000000000001")
    assert r.status_code == 404 and r.json()["field"] == "flow_instance"
    r = send(client, png(), "a.png", "image/png", customer="88009999", fund_account="88001234")
    assert r.status_code == 422 and r.json()["field"] == "customer"
