"""Archive rules without engines: filenames, media types, retention, export rules."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from domain.archive.rules import (
    ExportRule,
    MediaTypeMismatchError,
    RetentionRule,
    UnsafeFilenameError,
    UnsupportedMediaTypeError,
    check_media_type,
    sanitise_filename,
)
from domain.shared.errors import RuleViolationError
from projections.archive.filing import attachment_ids


@pytest.mark.parametrize("raw", ["../a.png", "/etc/passwd", "C:\\Windows\\x.png", "a\\b.png", "..", "", "  ",
                                 "nul.txt", "COM1.pdf", "a\x00b.png", "a\nb.png", "x" * 201 + ".png"])
def test_unsafe_filenames_are_refused(raw):
    with pytest.raises(UnsafeFilenameError):
        sanitise_filename(raw)


def test_ordinary_and_chinese_filenames_are_kept():
    assert sanitise_filename(" 身份证正面.png ") == "身份证正面.png"
    assert sanitise_filename("88001234_20190301_11.jpg") == "88001234_20190301_11.jpg"


def test_media_types_must_agree_with_declaration_and_extension():
    assert check_media_type("image/jpeg", "image/jpg", "a.JPEG") == "image/jpeg"
    assert check_media_type("application/pdf", "application/octet-stream", "a.pdf") == "application/pdf"
    with pytest.raises(MediaTypeMismatchError):
        check_media_type("application/pdf", "image/png", "a.pdf")
    with pytest.raises(MediaTypeMismatchError):
        check_media_type("application/pdf", None, "a.png")
    with pytest.raises(UnsupportedMediaTypeError):
        check_media_type("application/x-msdownload", None, "a.exe")
    with pytest.raises(UnsupportedMediaTypeError):
        check_media_type(None, None, "a.txt")


def test_retention_and_export_rules():
    rule = RetentionRule(default_days=30, by_category={"opening": None})
    deleted = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert not rule.purgeable("id_card", deleted, deleted + timedelta(days=29))
    assert rule.purgeable("id_card", deleted, deleted + timedelta(days=30))
    assert not rule.purgeable("opening", deleted, deleted + timedelta(days=10_000))
    with pytest.raises(RuleViolationError):
        ExportRule.parse({"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert ExportRule.parse({"customers": ["1"]}).as_dict()["customers"] == ["1"]


def test_attachment_references_are_found_anywhere_in_form_data():
    a, b = "0b3f6a4e-2d1c-4c8e-9a51-1f2e3d4c5b6a", "1c4a7b5f-3e2d-4d9f-8b62-2a3f4e5d6c7b"
    data = {"attachments": [{"document_id": a}], "rows": [{"id": "r1", "files": [{"document_id": b}]}],
            "noise": {"document_id": "not-a-uuid"}}
    assert [str(x) for x in attachment_ids(data)] == [a, b]


# -- security review regressions ------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [{"customers": 5}, {"customers": "abc"}, {"customers": [{"a": 1}]},
                                 {"business_types": [1]}, {"categories": ["Bad Cat"]}, {"include_deleted": "no"},
                                 {"date_to": "9999-12-31"}, {"customers": ["../x"]}])
def test_export_rule_elements_are_typed(raw):
    """M5, L4: a wrongly typed rule is a RuleViolation (422), never a 500 nor ('a', 'b', 'c')."""
    from domain.shared.errors import RuleViolationError

    with pytest.raises(RuleViolationError):
        ExportRule.parse(raw)


def test_identifiers_and_text_are_screened():
    """H1, H6: customer numbers and fund accounts are plain identifiers; text holds no NUL."""
    from domain.archive.rules import check_identifier, check_text
    from domain.shared.errors import RuleViolationError

    assert check_identifier("88001234", "customer") == "88001234"
    for bad in ("../../tmp/x", "=HYPERLINK(1)", "a\x00", "", "x" * 33, {"x": 1}):
        with pytest.raises(RuleViolationError):
            check_identifier(bad, "customer")
    assert check_text({"tags": ["a", "b"]}, "metadata") == {"tags": ["a", "b"]}
    for bad in ("a\x00b", ["ok", "b\x00"], {"k": {"n": "\x00"}}, object()):
        with pytest.raises(RuleViolationError):
            check_text(bad, "title")


def test_export_members_and_manifest_cells_cannot_escape_or_run():
    """H6: even values stored before intake validation (or masked ones) make safe member paths,
    and manifest.csv cells never start a spreadsheet formula."""
    from application.archive.exports import _member
    from application.shared.spreadsheet import safe_cell as csv_cell

    row = {"id": "d1", "current_version": 2, "customer": "../../../../tmp/pwned", "fund_account": "=HYPERLINK(x)",
           "filename": "..\\evil.png"}
    member = _member(row)
    assert ".." not in member.split("/") and not member.startswith("/") and member.count("/") == 2
    assert _member({**row, "customer": None, "fund_account": ".."}).startswith("_unfiled/_customer/")
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "ok", 5)] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "ok", 5]


def test_a_mount_manifest_that_is_not_csv_or_too_long_is_a_rule_violation():
    """H4, M7: csv.Error is a 422, and a manifest lists at most max_files rows."""
    from application.archive.mount import _manifest
    from domain.shared.errors import RuleViolationError

    with pytest.raises(RuleViolationError, match="not valid CSV"):
        _manifest('filename,business_line\n"' + "a" * 140_000 + '",brokerage\n')
    with pytest.raises(RuleViolationError, match="more than 2"):
        _manifest("filename,business_line\n" + "a.png,brokerage\n" * 3, 2)


def test_bounded_manifest_read_refuses_bombs_and_lying_entries(tmp_path):
    """H4: the cloud manifest reader judges the entry first and never reads past the cap."""
    import zipfile

    from infrastructure.archive.cloud import CloudBatchError, ZipCloudBatch, read_member

    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", '{"batch_id": "b", "files": []}' + " " * (2 << 20))
    with pytest.raises(CloudBatchError, match="zip bomb"):
        ZipCloudBatch(path)
    with zipfile.ZipFile(path) as zf, pytest.raises(CloudBatchError, match="at most 1000"):
        read_member(zf, "manifest.json", cap=1000, max_ratio=10_000)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", '{"batch_id": "bad\\u0000id", "files": []}')
    with pytest.raises(CloudBatchError, match="batch_id"):
        ZipCloudBatch(path)
