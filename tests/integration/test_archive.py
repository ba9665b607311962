"""The archive on real engines: blob store de-duplication, the integrity scan, static mounts
(zip bombs and traversal refused), exports with manifests and checksums, retention purges."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from application.archive.filing import Filing
from application.archive.mount import UnsafeArchiveError
from domain.archive.rules import ExportRule
from domain.shared.context import CommandContext
from tests.archive_samples import jpeg, pdf, png

ADMIN = CommandContext("admin:test", "setup")


@pytest.fixture
def archive(container):
    container.access.create_business_line(ADMIN, "brokerage", "Brokerage")
    return container


def catch_up(container):
    container.runners["archive.documents"].catch_up()


def upload(container, content, name, *, customer="88001234", account=None, category="id_card"):
    return container.archive.upload(ADMIN, [content], filename=name, declared_type=None,
                                    filing=Filing(customer=customer, fund_account=account, business_line="brokerage",
                                                  category=category))


def test_identical_content_is_stored_once_under_its_sha256(archive):
    body = png()
    a, b = upload(archive, body, "a.png"), upload(archive, body, "b.png", customer="88005678")
    assert a.sha256 == b.sha256 == hashlib.sha256(body).hexdigest()
    blobs = archive.archive.blobs
    assert list(blobs.hashes()) == [a.sha256]
    assert blobs.path(a.sha256).relative_to(blobs.root).parts == (a.sha256[:2], a.sha256[2:4], a.sha256)
    assert not list(blobs.tmp.iterdir())  # nothing left staged


def test_the_integrity_scan_finds_a_flipped_byte_and_a_missing_blob(archive):
    good, bad, gone = upload(archive, png(), "a.png"), upload(archive, jpeg(), "b.jpg"), upload(archive, pdf(), "c.pdf")
    catch_up(archive)
    blobs = archive.archive.blobs
    path = blobs.path(bad.sha256)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    blobs.path(gone.sha256).unlink()
    report = archive.archive.scan(archive.archive_queries.known_hashes())
    assert report.checked == 3 and report.ok == 1 and not report.healthy
    assert [c["sha256"] for c in report.corrupted] == [bad.sha256]
    assert report.corrupted[0]["used_by"] == [{"document_id": str(bad.result.id), "version": 1}]
    assert [m["sha256"] for m in report.missing] == [gone.sha256]
    assert good.sha256 not in str(report.corrupted + report.missing)


def _zip(members: dict[str, bytes], manifest: list[dict[str, str]] | None, *, deflate=True) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
        if manifest is not None:
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=["filename", "customer", "fund_account", "business_line",
                                                      "category", "title"])
            writer.writeheader()
            writer.writerows(manifest)
            zf.writestr("manifest.csv", text.getvalue())
    return out.getvalue()


def test_a_static_mount_imports_a_zip_with_a_per_file_report_and_progress(archive, tmp_path):
    files = {"scans/88001234_20190301_11.jpg": jpeg(), "scans/88001234_20190301_12.png": png(),
             "scans/notes.txt": b"plain text is not an archive type"}
    manifest = [{"filename": name, "customer": "88001234", "fund_account": "88001234", "business_line": "brokerage",
                 "category": "opening", "title": name} for name in files]
    manifest.append({"filename": "scans/absent.pdf", "customer": "88001234", "business_line": "brokerage"})
    source = tmp_path / "history.zip"
    source.write_bytes(_zip(files, manifest, deflate=False))
    seen = []
    report = archive.archive.mount(ADMIN, source, progress=lambda done, total: seen.append(done))
    assert (report.total, report.imported, report.failed) == (4, 2, 2)
    assert seen == [1, 2, 3, 4]
    by_name = {f["filename"]: f for f in report.files}
    assert by_name["scans/notes.txt"]["status"] == "failed" and "unrecognised" in by_name["scans/notes.txt"]["error"]
    assert by_name["scans/absent.pdf"]["status"] == "failed"
    catch_up(archive)
    docs = archive.archive_queries.by_customer({"all_lines": True, "lines": [], "all_departments": True,
                                                "departments": [], "accounts": []}, "88001234",
                                               include_deleted=False)
    assert sorted(d["filename"] for d in docs) == ["88001234_20190301_11.jpg", "88001234_20190301_12.png"]
    assert {d["source"] for d in docs} == {"mount"}


def test_a_zip_bomb_is_refused_before_anything_is_expanded(archive, tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("scans/zeros.png", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(200):  # 200 MB of zeros -> about 200 KB compressed
                member.write(chunk)
        zf.writestr("manifest.csv", "filename,business_line\nscans/zeros.png,brokerage\n")
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(UnsafeArchiveError, match="compressed .*:1|expands to"):
        archive.archive.mount(ADMIN, bomb)
    assert not list(archive.archive.blobs.hashes())


def test_a_zip_with_a_traversal_member_is_refused(archive, tmp_path):
    source = tmp_path / "evil.zip"
    source.write_bytes(_zip({"../../etc/evil.png": png()}, [{"filename": "../../etc/evil.png",
                                                             "business_line": "brokerage"}]))
    with pytest.raises(UnsafeArchiveError, match="outside the archive"):
        archive.archive.mount(ADMIN, source)


def test_an_export_holds_the_documents_manifests_and_checksums_and_is_an_event(archive):
    a = upload(archive, png(), "身份证正面.png", account="88001234")
    upload(archive, pdf(), "risk.pdf", category="risk_disclosure")
    upload(archive, jpeg(), "other.jpg", customer="88009999")
    catch_up(archive)
    scope = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    rule = ExportRule.parse({"customers": ["88001234"], "categories": ["id_card"]})

    def select(r, limit):
        return archive.archive_queries.for_export(scope, limit=limit, customers=list(r.customers),
                                                  business_types=list(r.business_types), categories=list(r.categories),
                                                  date_from=r.date_from, date_to=r.date_to,
                                                  include_deleted=r.include_deleted)

    result, export = archive.archive.produce(ADMIN, rule, None, "brokerage", "2026 监管报备", select)
    assert export.count == 1
    with archive.archive.blobs.open(export.zip_sha256) as f:
        zf = zipfile.ZipFile(io.BytesIO(f.read()))
    names = zf.namelist()
    assert {"manifest.csv", "manifest.json", "SHA256SUMS"} <= set(names)
    manifest = json.loads(zf.read("manifest.json"))
    assert [d["document_id"] for d in manifest["documents"]] == [str(a.result.id)]
    member = manifest["documents"][0]["path"]
    assert hashlib.sha256(zf.read(member)).hexdigest() == a.sha256
    assert zf.read("SHA256SUMS").decode() == f"{a.sha256}  {member}\n"
    assert "身份证正面.png" in zf.read("manifest.csv").decode("utf-8-sig")
    trail = archive.audit.trail(result.id)
    assert trail[0].actor == "admin:test"
    catch_up(archive)
    assert archive.archive_queries.export(result.id)["zip_sha256"] == export.zip_sha256


def test_retention_purges_deleted_content_only_after_its_period(archive):
    shared = png()
    kept, doomed = upload(archive, shared, "kept.png"), upload(archive, shared, "doomed.png")
    lonely = upload(archive, jpeg(), "lonely.jpg")
    for doc in (doomed, lonely):
        archive.archive.delete(ADMIN, doc.result.id, "scanned twice")
    catch_up(archive)
    app, queries = archive.archive, archive.archive_queries
    now = datetime.now(timezone.utc)
    assert app.purge_due(ADMIN, queries.purge_candidates(), now, queries.referenced) == []
    later = now + timedelta(days=365 * 20 + 1)
    purged = app.purge_due(ADMIN, queries.purge_candidates(), later, queries.referenced)
    assert sorted(purged) == sorted([str(doomed.result.id), str(lonely.result.id)])
    assert app.blobs.exists(kept.sha256)          # still used by a live document
    assert not app.blobs.exists(lonely.sha256)
    assert archive.audit.trail(lonely.result.id)[-1].event_type.endswith("ContentPurged")
    assert app.purge_due(ADMIN, queries.purge_candidates(), later, queries.referenced) == []  # once only


def test_the_cli_scans_mounts_and_exports(archive, tmp_path):
    from typer.testing import CliRunner

    from interfaces.cli.main import app as cli
    from tests.integration.test_audit import _cli_env

    env, runner = _cli_env(archive), CliRunner()
    folder = tmp_path / "loose"
    folder.mkdir()
    body = jpeg()
    (folder / "a.jpg").write_bytes(body)
    (folder / "sub.jpg").mkdir()                 # L5: a directory, a FIFO and a symlink fail their row only
    os.mkfifo(folder / "pipe.jpg")
    (folder / "link.jpg").symlink_to(folder / "a.jpg")
    (folder / "manifest.csv").write_text("filename,customer,business_line,category\na.jpg,88001234,brokerage,opening\n"
                                         "sub.jpg,88001234,brokerage,opening\npipe.jpg,88001234,brokerage,opening\n"
                                         "link.jpg,88001234,brokerage,opening\n")
    mounted = runner.invoke(cli, ["archive", "mount", str(folder), "--report", str(tmp_path / "report.json")], env=env)
    assert mounted.exit_code == 1, mounted.output   # some rows failed
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["imported"], report["failed"]) == (1, 3), report
    clean = runner.invoke(cli, ["archive", "scan", "--json"], env=env)
    assert clean.exit_code == 0 and json.loads(clean.output)["healthy"] is True
    out = tmp_path / "export.zip"
    exported = runner.invoke(cli, ["archive", "export", "--out", str(out), "--customer", "88001234"], env=env)
    assert exported.exit_code == 0, exported.output
    assert "manifest.csv" in zipfile.ZipFile(out).namelist()
    again = runner.invoke(cli, ["archive", "export", "--out", str(out), "--customer", "88001234"], env=env)
    assert again.exit_code == 2 and "--force" in again.output   # L5: never overwrites silently
    sha = hashlib.sha256(body).hexdigest()
    archive.archive.blobs.path(sha).write_bytes(b"\xff\xd8\xff tampered")
    broken = runner.invoke(cli, ["archive", "scan", "--json"], env=env)
    assert broken.exit_code == 1 and json.loads(broken.output)["corrupted"][0]["sha256"] == sha


def test_the_demo_archive_loads_once_with_viewable_content(container):
    from application.archive.media import sniff
    from interfaces.demo import DEMO
    from interfaces.demo_archive import DOCUMENTS, load_archive

    container.access.create_business_line(ADMIN, "brokerage", "Brokerage")
    assert load_archive(container.archive, container.store, DEMO) == len(DOCUMENTS)
    assert load_archive(container.archive, container.store, DEMO) == 0
    catch_up(container)
    everything = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    docs = container.archive_queries.by_customer(everything, "88001234", include_deleted=True)
    assert len(docs) == 3 and max(len(d["versions"]) for d in docs) == 2
    assert {sniff(d["body"]) for d in DOCUMENTS} == {"image/png", "application/pdf"}


# -- security review regressions (H5, M4, M7, L2, L3) --------------------------------------------------------
def test_flow_filing_files_only_documents_of_its_own_line_and_customer(archive):
    """H5: a document id in form data proves nothing; another line's document, or one filed
    under another customer or account, is reported foreign and left untouched."""
    from uuid import uuid4

    archive.access.create_business_line(ADMIN, "futures_ib", "IB")
    unfiled = upload(archive, png(), "u.png", customer=None)
    theirs = upload(archive, png(), "t.png", customer="88009999")
    other_account = upload(archive, png(), "o.png", customer="88007777", account="88007777")
    mine = upload(archive, png(), "m.png", customer="88001234", account="88001234")
    foreign_line = archive.archive.upload(ADMIN, [png()], filename="f.png", declared_type=None, filing=Filing(
        customer=None, fund_account=None, business_line="futures_ib", category="id_card"))
    ids = [d.result.id for d in (unfiled, theirs, other_account, mine, foreign_line)]
    instance = uuid4()
    outcome = archive.archive.file_flow_attachments(ADMIN, instance, ids, customer="88001234",
                                                    fund_account="88001234", business_type="address_change",
                                                    department_id=None, business_line="brokerage")
    assert sorted(outcome["filed"]) == sorted([str(ids[0]), str(ids[3])])
    assert sorted(outcome["foreign"]) == sorted([str(ids[1]), str(ids[2]), str(ids[4])])
    untouched = archive.archive.document(ids[4])
    assert untouched.flow_instance is None and untouched.customer is None and untouched.filed_for == []
    assert archive.archive.document(ids[0]).customer == "88001234"
    without_line = archive.archive.file_flow_attachments(ADMIN, uuid4(), ids[:1], customer="88001234",
                                                         fund_account="88001234", business_type="x",
                                                         department_id=None)
    assert without_line["foreign"] == [str(ids[0])]


def test_exports_are_bounded_before_writing_and_their_manifest_follows_the_callers_field_rules(archive):
    """M7: count and total size are checked before a byte is written; M4: the manifest and
    member paths are the presented (masked) rows."""
    from domain.shared.errors import RuleViolationError

    upload(archive, png(), "a.png", customer="88001234", account="88001234")
    upload(archive, pdf(), "b.pdf", customer="88001234", account="88001234", category="risk")
    catch_up(archive)
    scope = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}

    def select(r, limit):
        return archive.archive_queries.for_export(scope, limit=limit, customers=[], business_types=[],
                                                  categories=[], date_from=None, date_to=None,
                                                  include_deleted=False)

    exports = archive.archive
    limits = exports.export_limits
    exports.export_limits = replace(limits, max_files=1)
    with pytest.raises(RuleViolationError, match="more than 1 documents"):
        exports.produce(ADMIN, ExportRule(), None, "brokerage", "", select)
    exports.export_limits = replace(limits, max_files=10, max_bytes=10)
    with pytest.raises(RuleViolationError, match="exceed 10 bytes"):
        exports.produce(ADMIN, ExportRule(), None, "brokerage", "", select)
    exports.export_limits = replace(limits, max_files=10, max_bytes=1 << 30)

    def masked(rows):
        return [{**r, "customer": "8800****", "fund_account": "8800****"} for r in rows]

    _, export = exports.produce(ADMIN, ExportRule(), None, "brokerage", "", select, masked)
    with archive.archive.blobs.open(export.zip_sha256) as f:
        zf = zipfile.ZipFile(io.BytesIO(f.read()))
    assert "88001234" not in zf.read("manifest.csv").decode("utf-8-sig")
    assert all(n.startswith("8800____/8800____/") for n in zf.namelist() if "/" in n)
    assert export.reach == [{"business_line": "brokerage", "department_id": None, "fund_account": "88001234"}]


def test_a_corrupted_blob_is_replaced_by_a_verified_copy_and_stale_staging_files_are_swept(tmp_path):
    """L3, L2."""
    import os
    import time

    from application.archive.integrity import rehash
    from infrastructure.archive.blobs import FilesystemBlobStore

    store = FilesystemBlobStore(tmp_path / "blobs")
    body = png()
    staged = store.stage([body], 1 << 20)
    assert store.commit(staged)
    store.path(staged.sha256).write_bytes(b"bit rot")
    again = store.stage([body], 1 << 20)
    assert store.commit(again) and rehash(store, staged.sha256) == staged.sha256
    same = store.stage([body], 1 << 20)
    assert store.commit(same) is False and not same.path.exists()

    stale, fresh = store.tmp / "upload-stale", store.tmp / "bulk-fresh.zip"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))
    FilesystemBlobStore(tmp_path / "blobs")   # a (re)start sweeps
    assert not stale.exists() and fresh.exists()


def test_a_purge_keeps_content_reused_by_an_upload_its_read_model_has_not_seen_yet(archive):
    """M2: the reference check runs under the content's lock on a caught-up read model, so
    content a concurrent upload just reused is not deleted."""
    body = jpeg()
    doomed = upload(archive, body, "doomed.jpg")
    archive.archive.delete(ADMIN, doomed.result.id, "scanned twice")
    catch_up(archive)
    candidates = archive.archive_queries.purge_candidates()
    reused = upload(archive, body, "again.jpg")    # saved, not yet projected
    later = datetime.now(timezone.utc) + timedelta(days=365 * 20 + 1)
    purged = archive.archive.purge_due(ADMIN, candidates, later, archive.archive_queries.referenced,
                                       lambda: catch_up(archive))
    assert purged == [str(doomed.result.id)]
    assert archive.archive.blobs.exists(reused.sha256)
    assert archive.archive.content(archive.archive.document(reused.result.id))[1].read() == body
