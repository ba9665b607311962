"""Cloud-platform sync: a batch is imported through the folder adapter and checked; anomalies
(hash mismatch, missing file, unknown customer, duplicate) are listed and resolved."""
from __future__ import annotations

import hashlib
import json

import pytest

from domain.shared.context import CommandContext
from domain.shared.errors import AlreadyExistsError
from infrastructure.archive.cloud import open_batch
from tests.archive_samples import jpeg, png

ADMIN = CommandContext("admin:test", "setup")
SCOPE = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}


def test_a_cloud_batch_is_imported_and_its_anomalies_listed_for_resolution(container, tmp_path):
    container.access.create_business_line(ADMIN, "brokerage", "Brokerage")
    container.forms.sync_customers(ADMIN, [{"fund_account": "88001234", "name": "张三"}])
    head, card, fake = jpeg(), png(), png()
    folder = tmp_path / "CFMMC-20261121-001"
    folder.mkdir()
    (folder / "88001234_20261121_11.jpg").write_bytes(head)
    (folder / "88001234_20261121_12.png").write_bytes(card)
    (folder / "tampered.png").write_bytes(fake)
    (folder / "stranger.png").write_bytes(png())
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    files = [
        {"file": "88001234_20261121_11.jpg", "sha256": sha(head), "fund_account": "88001234", "category": "head_photo"},
        {"file": "88001234_20261121_12.png", "sha256": sha(card), "fund_account": "88001234", "category": "id_card"},
        {"file": "88001234_20261121_12.png", "sha256": sha(card), "fund_account": "88001234", "category": "id_card"},
        {"file": "tampered.png", "sha256": "0" * 64, "fund_account": "88001234"},
        {"file": "gone.png", "sha256": "1" * 64, "fund_account": "88001234"},
        {"file": "stranger.png", "sha256": "2" * 64, "fund_account": "99999999"},
    ]
    (folder / "manifest.json").write_text(json.dumps({"batch_id": "CFMMC-20261121-001",
                                                      "business_line": "brokerage", "files": files}))
    queries = container.archive_queries
    with open_batch(folder) as batch:
        report = container.archive.import_batch(ADMIN, batch, queries.is_duplicate)
    assert (report["imported"], report["anomalies"]) == (2, 4)
    kinds = {e["index"]: e.get("anomaly") for e in report["entries"]}
    assert kinds == {1: None, 2: None, 3: "duplicate", 4: "hash_mismatch", 5: "missing_file", 6: "unknown_customer"}
    assert not container.archive.blobs.exists(sha(fake))   # a mismatching file is never stored
    with open_batch(folder) as batch, pytest.raises(AlreadyExistsError):
        container.archive.import_batch(ADMIN, batch, queries.is_duplicate)

    container.archive.resolve_anomaly(ADMIN, "CFMMC-20261121-001", 5, "fixed_at_source", "re-sent tomorrow")
    container.runners["archive.documents"].catch_up()
    [listed] = queries.sync_batches(SCOPE)
    assert (listed["imported"], listed["anomalies"], listed["open_anomalies"]) == (2, 4, 3)
    open_ones = queries.sync_anomalies(SCOPE, open_only=True, kind=None, batch_id=None)
    assert [a["anomaly"] for a in open_ones] == ["duplicate", "hash_mismatch", "unknown_customer"]
    docs = queries.by_customer(SCOPE, "88001234", include_deleted=False)
    assert {d["source"] for d in docs} == {"cloud_sync"} and len(docs) == 2


def test_a_batch_id_is_claimed_before_any_file_is_imported(container, tmp_path):
    """M6: a second import of a batch whose id is already claimed (a concurrent import) is a 409
    before it creates a single document."""
    from domain.archive.sync import SyncBatchClaim
    from domain.shared.context import acting_as

    container.access.create_business_line(ADMIN, "brokerage", "Brokerage")
    container.forms.sync_customers(ADMIN, [{"fund_account": "88001234", "name": "张三"}])
    root = tmp_path / "batch"
    root.mkdir()
    body = png()
    (root / "a.png").write_bytes(body)
    (root / "manifest.json").write_text(json.dumps({"batch_id": "B-race", "business_line": "brokerage", "files": [
        {"file": "a.png", "sha256": hashlib.sha256(body).hexdigest(), "customer": "88001234"}]}))
    with acting_as(ADMIN):
        container.archive.save_one(SyncBatchClaim.claim("B-race", "brokerage"))   # the other import
    head = container.store.head()
    with open_batch(root) as batch, pytest.raises(AlreadyExistsError):
        container.archive.import_batch(ADMIN, batch, container.archive_queries.is_duplicate)
    assert container.store.head() == head
