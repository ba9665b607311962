"""Checkpoints of the audit chain anchored outside the database (ADR 0027): what verify finds
with them, incremental verification, and the three anchors against local servers."""
from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from asn1crypto import pem
from botocore.config import Config
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from application.audit.anchoring import ChainAnchoring, ChainRefusedError
from domain.audit.anchors import Checkpoint, checkpoint_key
from infrastructure.audit.factory import anchor_from_url
from infrastructure.audit.tsa import TsaAnchor
from infrastructure.eventstore.chain import link_hash
from interfaces.cli.main import app as cli
from tests.anchor_fakes import FakeS3, fake_tsa, tsa_identity
from tests.integration.test_audit import _cli_env, _tamper

pytestmark = pytest.mark.usefixtures("embedded_only")


def _events(container, ctx, n, start=0):
    return [container.access.create_department(ctx, f"D{i}", f"Dept {i}", "other", None).id
            for i in range(start, start + n)]


def _anchors_file(container):
    return container.settings.data_dir / "audit" / "anchors.jsonl"


def _key(container):
    return checkpoint_key(container.settings.audit_chain_key.get_secret_value().encode())


def test_a_checkpoint_is_written_only_when_the_head_moved(container, ctx):
    assert container.audit.checkpoint() is None  # empty store: nothing to anchor
    _events(container, ctx, 3)
    first = container.audit.checkpoint()
    assert first is not None and first.position == 3
    assert container.audit.checkpoint() is None
    _events(container, ctx, 2, start=3)
    container.audit.anchoring.checkpoint_if_moved()
    lines = [json.loads(line) for line in _anchors_file(container).read_text().splitlines()]
    assert [line["position"] for line in lines] == [3, 5]
    assert all(Checkpoint.from_json(line).authentic(_key(container)) for line in lines)


def test_two_checkpoint_writers_never_append_an_older_head_after_a_newer(container, ctx):
    # The first writer reads head 3 and is slow to append; meanwhile events move the head to 5
    # and a second writer (another worker, the CLI) anchors. One writer at a time: the second
    # waits, reads head 5 after the first appended 3, and no checkpoint regresses.
    anchoring = container.audit.anchoring
    _events(container, ctx, 3)
    entered, release = threading.Event(), threading.Event()
    append = anchoring.anchor.append

    def slow_append(checkpoint):
        if checkpoint.position == 3:
            entered.set()
            release.wait(10)
        append(checkpoint)

    anchoring.anchor.append = slow_append
    first = threading.Thread(target=anchoring.checkpoint)
    first.start()
    assert entered.wait(10)
    _events(container, ctx, 2, start=3)
    second = threading.Thread(target=anchoring.checkpoint)
    second.start()
    second.join(0.5)
    release.set()
    first.join(10)
    second.join(10)

    lines = [json.loads(line) for line in _anchors_file(container).read_text().splitlines()]
    assert [line["position"] for line in lines] == [3, 5]
    assert container.audit.verify().ok


def test_incremental_verify_walks_only_the_events_after_the_newest_good_checkpoint(container, ctx):
    _events(container, ctx, 5)
    container.audit.checkpoint()
    _events(container, ctx, 3, start=5)
    report = container.audit.verify(since_checkpoint=True)
    assert report.ok and report.checked == 3 and report.walked_after == 5
    full = container.audit.verify()
    assert full.ok and full.checked == 8 and full.walked_after == 0 and full.checkpoint.position == 5


def test_a_forged_checkpoint_line_is_reported_and_not_trusted(container, ctx):
    _events(container, ctx, 4)
    genuine = container.audit.checkpoint()
    forged = Checkpoint(9, b"\x01" * 32, genuine.at, b"\x02" * 32).to_json()
    with _anchors_file(container).open("a") as f:
        f.write(json.dumps(forged) + "\n" + "not json\n")
    report = container.audit.verify(since_checkpoint=True)
    assert [(p.position, p.kind) for p in report.problems] == [(0, "checkpoint_forged"), (9, "checkpoint_forged")]
    assert "anchors.jsonl:3" in report.problems[0].detail and report.checkpoint == genuine


def test_a_chain_rewritten_with_the_key_differs_from_the_checkpoint(container, ctx):
    """Someone holding the chain key rewrites an event and every chain hash after it: the walk
    passes, the anchored checkpoint does not."""
    _events(container, ctx, 4)
    container.audit.checkpoint()
    t, key = container.settings.events_table, container.store.chain_key
    _tamper(container, f"UPDATE {t} SET state = state || '\\x20'::bytea WHERE notification_id = 2", ())
    with container.store.datastore.get_connection() as conn:
        rows = conn.execute(f"SELECT notification_id, originator_id, originator_version, topic, state FROM {t}"
                            " ORDER BY notification_id").fetchall()
        prev = conn.execute(f"SELECT hash FROM {t}_chain WHERE notification_id = 1").fetchone()["hash"]
        for r in rows[1:]:
            prev = link_hash(key, prev, r["notification_id"], r["originator_id"], r["originator_version"],
                             r["topic"], r["state"])
            conn.execute(f"UPDATE {t}_chain SET hash = %s WHERE notification_id = %s", (prev, r["notification_id"]))
    report = container.audit.verify()
    assert [(p.position, p.kind) for p in report.problems] == [(4, "checkpoint_mismatch")]
    with pytest.raises(ChainRefusedError):  # a new checkpoint would vouch for the rewrite
        container.audit.checkpoint()


def test_cli_anchors_a_checkpoint_and_verifies_from_it(container, ctx):
    _events(container, ctx, 3)
    runner, env = CliRunner(), _cli_env(container)
    written = runner.invoke(cli, ["audit", "checkpoint"], env=env)
    assert written.exit_code == 0 and "checkpoint anchored: position 3" in written.output, written.output
    again = runner.invoke(cli, ["audit", "checkpoint"], env=env)
    assert again.exit_code == 0 and "nothing to anchor" in again.output
    _events(container, ctx, 2, start=3)
    verified = runner.invoke(cli, ["audit", "verify", "--since-checkpoint"], env=env)
    assert verified.exit_code == 0 and "2 events verified after position 3" in verified.output, verified.output
    t = container.settings.events_table
    _tamper(container, f"DELETE FROM {t} WHERE notification_id > 2", ())
    _tamper(container, f"DELETE FROM {t}_chain WHERE notification_id > 2", ())
    broken = runner.invoke(cli, ["audit", "verify"], env=env)
    assert broken.exit_code == 1 and "event 3 is missing: the checkpoint at" in broken.output, broken.output


@pytest.fixture(scope="module")
def s3():
    fake = FakeS3({"anchors": True, "plain": False})
    with fake.running() as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
        yield fake, url


def test_the_s3_anchor_writes_object_locked_checkpoints_and_reads_the_newest(container, ctx, s3):
    _, url = s3
    unlocked = anchor_from_url(f"s3://plain/x/?endpoint={url}&region=us-east-1", container.settings.data_dir)
    _events(container, ctx, 1)
    with pytest.raises(ValueError, match="no object lock"):  # checkpoints there could be deleted
        ChainAnchoring(container.audit.log, unlocked, _key(container)).checkpoint()
    anchor = anchor_from_url(f"s3://anchors/ledger?endpoint={url}&region=us-east-1&retain_days=1",
                             container.settings.data_dir)
    anchoring = ChainAnchoring(container.audit.log, anchor, _key(container))
    _events(container, ctx, 1, start=1)
    anchoring.checkpoint()
    _events(container, ctx, 11, start=2)
    anchoring.checkpoint()
    assert [e.checkpoint.position for e in anchor.latest(5)] == [13, 2]
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
    newest = anchor.latest(1)[0].where
    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(Bucket="anchors", Key=newest)
    t = container.settings.events_table
    _tamper(container, f"DELETE FROM {t} WHERE notification_id > 10", ())
    _tamper(container, f"DELETE FROM {t}_chain WHERE notification_id > 10", ())
    report = anchoring.verify(since_checkpoint=True)
    assert [(p.position, p.kind) for p in report.problems] == [(11, "missing")]
    assert report.checkpoint.position == 2 and report.walked_after == 2


def test_the_tsa_anchor_keeps_a_token_that_covers_each_checkpoint(container, ctx, tmp_path):
    with fake_tsa(tmp_path / "tsa.pem") as url:
        anchor = anchor_from_url(f"tsa+{url}?file={tmp_path / 'tsa.jsonl'}&trust={tmp_path / 'tsa.pem'}",
                                 container.settings.data_dir)
        assert isinstance(anchor, TsaAnchor)
        anchoring = ChainAnchoring(container.audit.log, anchor, _key(container))
        _events(container, ctx, 3)
        written = anchoring.checkpoint()
    assert anchoring.verify().ok and anchor.latest(1)[0].checkpoint == written
    other_root = tmp_path / "other.pem"
    other_root.write_bytes(pem.armor("CERTIFICATE", tsa_identity()[0].dump()))
    untrusted = TsaAnchor(anchor.url, anchor.tokens, trust=other_root).latest(1)[0]
    assert untrusted.checkpoint is None and "not signed by a trusted" in (untrusted.error or "")
    # Someone holding the chain key re-signs the line for another head: the token no longer covers it.
    record = json.loads((tmp_path / "tsa.jsonl").read_text())
    moved = Checkpoint.sign(_key(container), 2, container.audit.log.chain_hashes([2])[2], written.at).to_json()
    (tmp_path / "tsa.jsonl").write_text(json.dumps({**record, **moved}) + "\n")
    report = anchoring.verify()
    assert [(p.position, p.kind) for p in report.problems] == [(0, "checkpoint_forged")]
    assert "does not cover this checkpoint" in report.problems[0].detail


def test_copies_of_an_old_checkpoint_appended_after_the_newest_do_not_hide_a_truncation(container, ctx):
    """Copies of a genuine checkpoint are genuine: the highest position read is the reference,
    however many copies of a lower one were appended after it, and no new checkpoint is written."""
    _events(container, ctx, 5)
    container.audit.checkpoint()
    _events(container, ctx, 7, start=5)
    container.audit.checkpoint()
    t = container.settings.events_table
    _tamper(container, f"DELETE FROM {t} WHERE notification_id > 9", ())
    _tamper(container, f"DELETE FROM {t}_chain WHERE notification_id > 9", ())
    old = _anchors_file(container).read_text().splitlines()[0]
    with _anchors_file(container).open("a") as f:
        f.write((old + "\n") * 101)  # more than the checkpoints whose positions are compared
    report = container.audit.verify(since_checkpoint=True)
    kinds = [(p.position, p.kind) for p in report.problems]
    assert kinds == [(5, "checkpoint_regressed")] * 101 + [(10, "missing")]
    assert "events 10–12 are missing" in report.problems[-1].detail and report.checkpoint.position == 5
    with pytest.raises(ChainRefusedError):  # the next checkpoint would vouch for the truncated head
        container.audit.checkpoint()
    assert len(_anchors_file(container).read_text().splitlines()) == 103


def test_an_s3_checkpoint_whose_key_does_not_match_its_content_is_forged(container, ctx, s3):
    _, url = s3
    anchor = anchor_from_url(f"s3://anchors/renamed/?endpoint={url}&region=us-east-1&retain_days=1",
                             container.settings.data_dir)
    anchoring = ChainAnchoring(container.audit.log, anchor, _key(container))
    _events(container, ctx, 2)
    genuine = anchoring.checkpoint()
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
    first = "renamed/0000000000000000000-0000000000000000000.json"  # sorts before every real key
    client.put_object(Bucket="anchors", Key=first, Body=json.dumps(genuine.to_json()).encode(),
                      ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1))
    report = anchoring.verify()
    assert [(p.position, p.kind) for p in report.problems] == [(0, "checkpoint_forged")]
    assert first in report.problems[0].detail and "key does not match its content" in report.problems[0].detail


def test_a_tsa_token_whose_time_is_not_the_checkpoints_is_refused(container, ctx, tmp_path):
    with fake_tsa(tmp_path / "tsa.pem", at=datetime(2020, 1, 1, tzinfo=UTC)) as url:
        anchor = anchor_from_url(f"tsa+{url}?file={tmp_path / 'tsa.jsonl'}&trust={tmp_path / 'tsa.pem'}",
                                 container.settings.data_dir)
        anchoring = ChainAnchoring(container.audit.log, anchor, _key(container))
        _events(container, ctx, 2)
        anchoring.checkpoint()
    found = anchor.latest(1)[0]
    assert found.checkpoint is None and "time-stamp token's time 2020-01-01T00:00:00+00:00 is not" in (found.error or "")


def test_a_tsa_anchor_without_a_trust_root_is_warned_about(container, caplog):
    with caplog.at_level("WARNING", logger="ledgerflow.audit"):
        anchor_from_url("tsa+http://127.0.0.1:9/tsa", container.settings.data_dir)
    assert "no trust root" in caplog.text and "any certificate is accepted" in caplog.text
