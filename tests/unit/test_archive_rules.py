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


def test_export_members_and_manifest_cells_cannot_escape_or_run():
    """H6: even values stored before intake validation (or masked ones) make safe member paths,
    and manifest.csv cells never start a spreadsheet formula."""
    from application.archive.exports import _member, csv_cell

    row = {"id": "d1", "current_version": 2, "customer": "../../../../tmp/pwned", "fund_account": "=HYPERLINK(x)",
           "filename": "..\\evil.png"}
    member = _member(row)
    assert ".." not in member.split("/") and not member.startswith("/") and member.count("/") == 2
    assert _member({**row, "customer": None, "fund_account": ".."}).startswith("_unfiled/_customer/")
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "ok", 5)] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "ok", 5]
