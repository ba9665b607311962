"""The backup manifest's key fingerprints and where the audit anchors are found (ADR 0030)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from infrastructure.backup import BackupError
from infrastructure.backup.manifest import MANIFEST, Manifest, fingerprint, manifest_key, new_salt
from interfaces.cli.backup import anchors_path


def manifest(keys: dict[str, bytes]) -> Manifest:
    salt = new_salt()
    return Manifest(created_at="2026-11-27T00:00:00+00:00", head_position=0, settings={}, tables={},
                    excluded_tables=[], keys={n: fingerprint(k, salt, 1000) for n, k in keys.items()}, salt=salt,
                    iterations=1000)


def test_a_manifest_accepts_the_keys_it_was_made_with_and_names_the_one_that_differs():
    m = manifest({"audit_chain_key": b"chain-key-0123456789abcdef", "master_key": b"master-key-0123456789abcd"})
    m.check_keys({"audit_chain_key": b"chain-key-0123456789abcdef", "master_key": b"master-key-0123456789abcd"})
    with pytest.raises(BackupError, match="master_key is not the one"):
        m.check_keys({"audit_chain_key": b"chain-key-0123456789abcdef", "master_key": b"another-master-key-01234"})
    with pytest.raises(BackupError, match="master_key set; it is not set here"):
        m.check_keys({"audit_chain_key": b"chain-key-0123456789abcdef"})


def test_fingerprints_of_one_key_differ_between_backups_and_do_not_contain_it():
    key = b"chain-key-0123456789abcdef"
    a, b = fingerprint(key, new_salt(), 1000), fingerprint(key, new_salt(), 1000)
    assert a != b and key.hex() not in a and key.decode() not in a


@pytest.mark.parametrize(("setting", "expected"), [
    (None, "/data/audit/anchors.jsonl"),
    ("file:///var/lib/anchors.jsonl", "/var/lib/anchors.jsonl"),
    ("tsa+https://tsa.example/stamp?file=/var/lib/tokens.jsonl", "/var/lib/tokens.jsonl"),
    ("tsa+https://tsa.example/stamp", "/data/audit/anchors-tsa.jsonl"),
    ("s3://anchors/ledgerflow?retain_days=3650", None),
])
def test_the_anchors_file_is_found_where_the_anchor_setting_keeps_it(setting, expected):
    found = anchors_path(SimpleNamespace(audit_anchor=setting, data_dir=Path("/data")))  # type: ignore[arg-type]
    assert found == (Path(expected) if expected else None)


KEY = manifest_key(b"chain-key-0123456789abcdef")


def _written(tmp_path: Path, **changes) -> Manifest:
    m = manifest({})
    m.files = {"postgres/t.copy.gz": {"sha256": "00" * 32, "bytes": 1}}
    m.tables = {"t": {"file": "postgres/t.copy.gz", "rows": 1, "columns": ["a"]}}
    for name, value in changes.items():
        setattr(m, name, value)
    m.write(tmp_path, KEY)
    return Manifest.read(tmp_path)


def test_a_manifest_read_back_is_authentic_under_its_key_only(tmp_path):
    read = _written(tmp_path)
    read.check_mac(KEY)
    read.check_paths()
    with pytest.raises(BackupError, match="MAC does not match"):
        read.check_mac(manifest_key(b"another-chain-key-0123456789"))


def test_a_manifest_changed_after_it_was_written_is_refused(tmp_path):
    _written(tmp_path)
    data = (tmp_path / MANIFEST).read_text().replace("00" * 32, "11" * 32)
    (tmp_path / MANIFEST).write_text(data)
    with pytest.raises(BackupError, match="MAC does not match"):
        Manifest.read(tmp_path).check_mac(KEY)


@pytest.mark.parametrize("name", ["/etc/passwd", "../other/postgres/t.copy.gz", "postgres/../../x", "./t", "a//b",
                                  "c:\\x"])
def test_a_manifest_naming_a_file_outside_the_backup_is_refused(tmp_path, name):
    read = _written(tmp_path, files={name: {"sha256": "00" * 32, "bytes": 1}},
                    tables={"t": {"file": name, "rows": 1, "columns": ["a"]}})
    with pytest.raises(BackupError, match="outside the backup|not a path inside"):
        read.check_paths()


def test_a_table_or_anchors_file_without_a_checksum_is_refused(tmp_path):
    unlisted = _written(tmp_path, tables={"t": {"file": "postgres/other.copy.gz", "rows": 1, "columns": ["a"]}})
    with pytest.raises(BackupError, match="table t's file is not among"):
        unlisted.check_paths()
    anchors = _written(tmp_path, anchors={"included": True, "file": "audit/anchors.jsonl"})
    with pytest.raises(BackupError, match="anchors file is not among"):
        anchors.check_paths()


def test_a_manifest_with_an_absurd_fingerprint_cost_is_refused_before_any_hashing():
    m = manifest({"audit_chain_key": b"chain-key-0123456789abcdef"})
    m.iterations = 10**12
    with pytest.raises(BackupError, match="iterations .* out of range"):
        m.check_keys({"audit_chain_key": b"chain-key-0123456789abcdef"})
