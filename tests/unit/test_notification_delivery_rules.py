"""The delivery rules without engines or sockets: backoff, what an interruption means per channel,
redaction, the HMAC signature, what each adapter puts in a message, and the settings' checks."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from domain.notifications.delivery import DeliveryError, Message, RetryPolicy, after_interruption, redact
from infrastructure.notifications.channels import delivery_channels
from infrastructure.notifications.email import SmtpMailer, message_id
from infrastructure.notifications.http import signature, verify
from infrastructure.notifications.oa import OaWebhook
from infrastructure.notifications.recipients import parse_userids
from infrastructure.notifications.sink import FileSink
from infrastructure.notifications.wecom import WeComApp, clip, reference
from infrastructure.settings import Mode, Settings

KEY = "3f1c2d4e-0000-4000-8000-000000000001:4:operator:wang.fang:wecom"
MESSAGE = Message("wang.fang", "operator:wang.fang", "task_arrived", "zh", "待办：甲公司签约", "您有一条新的待办",
                  "https://ledgerflow.firm.cn/flows/instances/42")
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
STRONG = {"bootstrap_admin_token": "a" * 32, "audit_chain_key": "b" * 32, "master_key": "m" * 32}


def test_backoff_doubles_up_to_its_cap_with_a_jitter_fixed_by_key_and_attempt():
    policy = RetryPolicy(max_attempts=8, base_seconds=30, cap_seconds=600)
    for attempts, ceiling in [(1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (9, 600)]:
        delay = policy.delay(KEY, attempts).total_seconds()
        assert ceiling / 2 <= delay <= ceiling
        assert RetryPolicy(8, 30, 600).delay(KEY, attempts).total_seconds() == delay  # every worker, every run
    assert len({policy.delay(f"k{i}", 1) for i in range(20)}) > 10  # rows failed together spread out


def test_a_permanent_refusal_or_the_last_attempt_is_dead():
    policy = RetryPolicy(max_attempts=3)
    assert policy.after_failure(DeliveryError("busy"), 2) == "failed"
    assert policy.after_failure(DeliveryError("busy"), 3) == "dead"
    assert policy.after_failure(DeliveryError("no such user", permanent=True), 1) == "dead"


def test_an_interrupted_send_is_repeated_only_while_the_other_side_recognises_its_key():
    assert after_interruption(0.0, T0, T0 + timedelta(minutes=5)) == "in_doubt"  # SMTP
    assert after_interruption(1800.0, T0, T0 + timedelta(minutes=5)) == "pending"  # WeCom, within its interval
    assert after_interruption(1800.0, T0, T0 + timedelta(minutes=31)) == "in_doubt"  # WeCom, interval gone by
    assert after_interruption(float("inf"), T0, T0 + timedelta(days=30)) == "pending"


def test_errors_keep_no_address_and_stay_short():
    assert redact("550 <wang.fang@firm.cn>: no such user", "wang.fang@firm.cn") == "550 <<address>>: no such user"
    assert len(redact("x" * 5000)) == 500


def test_the_signature_covers_timestamp_and_body_and_expires():
    body = b'{"request_id":"k"}'
    signed = signature(b"secret", "1764234000", body)
    assert verify(b"secret", "1764234000", body, signed, now=1764234100)
    assert not verify(b"secret", "1764234000", body + b" ", signed, now=1764234100)
    assert not verify(b"other", "1764234000", body, signed, now=1764234100)
    assert not verify(b"secret", "1764234000", body, signed, now=1764234000 + 301)
    assert not verify(b"secret", "soon", body, signed)


def test_the_wecom_message_is_a_card_with_the_link_and_carries_the_keys_reference():
    app = WeComApp("corp", "secret", 1000002)
    card = app.body(MESSAGE, KEY)
    assert (card["msgtype"], card["touser"], card["enable_duplicate_check"], card["duplicate_check_interval"]) == (
        "textcard", "wang.fang", 1, 1800)
    assert card["textcard"]["url"] == MESSAGE.link and card["textcard"]["btntxt"] == "详情"
    assert reference(KEY) in card["textcard"]["description"]
    text = app.body(Message("wang.fang", "operator:wang.fang", "sla_warned", "en", "Due soon", "x" * 5000), KEY)
    assert text["msgtype"] == "text" and len(text["text"]["content"].encode()) <= 2048
    assert clip("甲" * 100, 10) == "甲甲…" and WeComApp("c", "s", 1, duplicate_check_seconds=99_999).dedup_seconds == 14_400


def test_the_email_has_a_message_id_from_the_key_and_the_deep_link():
    mail = SmtpMailer("smtp.firm.cn", 587, "Ledgerflow <noreply@firm.cn>").compose(MESSAGE, KEY)
    assert mail["Message-ID"] == message_id(KEY, "noreply@firm.cn") == message_id(KEY, "x <noreply@firm.cn>")
    assert mail["Message-ID"].endswith("@firm.cn>") and mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content().rstrip().endswith(MESSAGE.link)


def test_the_oa_todo_carries_the_summary_fields_and_the_deep_link():
    payload = {"url": MESSAGE.link, "instance_id": "42", "node": "运营审核", "summary": {"客户": "甲公司"}}
    body = OaWebhook("https://oa.firm.cn/hooks/todo", "s").body(
        Message("wang.fang", "operator:wang.fang", "task_arrived", "zh", "t", "b", None, payload), KEY)
    assert body == {"key": KEY, "kind": "task_arrived", "recipient": "wang.fang", "language": "zh", "title": "t",
                    "summary": "b", "fields": {"客户": "甲公司"}, "link": MESSAGE.link,
                    "extra": {"instance_id": "42", "node": "运营审核"}}


def test_the_file_sink_writes_a_key_once(tmp_path):
    sink = FileSink(tmp_path / "sms.jsonl")
    assert not sink.send(MESSAGE, "k1").duplicate
    assert sink.send(MESSAGE, "k1").duplicate
    assert FileSink(tmp_path / "sms.jsonl").send(MESSAGE, "k1").duplicate  # after a restart too
    lines = (tmp_path / "sms.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["key"] for line in lines] == ["k1"]


def test_wecom_userids_map_logins_where_they_differ():
    assert parse_userids(" wang.fang=WangFang, li.lei = lilei01 ,") == {"wang.fang": "WangFang", "li.lei": "lilei01"}


def test_a_configured_channel_must_be_complete():
    with pytest.raises(ValueError, match="NOTIFY_SMS_SECRET"):
        Settings(notify_sms_url="https://sms.firm.cn/send")
    with pytest.raises(ValueError, match="NOTIFY_WECOM_AGENT_ID"):
        Settings(notify_wecom_corp_id="ww1", notify_wecom_secret="s")
    with pytest.raises(ValueError, match="LEASE_SECONDS must be at least 260"):
        Settings(notify_lease_seconds=100, notify_timeout_seconds=10, notify_batch_size=50, notify_concurrency=4)


def test_production_refuses_short_channel_secrets_and_a_password_in_clear():
    with pytest.raises(ValueError, match="NOTIFY_OA_SECRET"):
        Settings(mode=Mode.production, notify_channels="oa", notify_oa_url="https://oa.firm.cn/todo",
                 notify_oa_secret="short", **STRONG)
    with pytest.raises(ValueError, match="in clear"):
        Settings(mode=Mode.production, notify_channels="email", notify_smtp_host="smtp.firm.cn",
                 notify_smtp_security="none", notify_smtp_password="p" * 30, **STRONG)
    assert Settings(mode=Mode.production, notify_channels="email", notify_smtp_host="smtp.firm.cn",
                    notify_smtp_password="p", **STRONG)


def test_production_refuses_to_start_with_an_enabled_channel_that_has_no_gateway():
    with pytest.raises(ValueError, match=r"no gateway: sms \(LEDGERFLOW_NOTIFY_SMS_URL\);"):
        Settings(mode=Mode.production, notify_channels="email,sms", notify_smtp_host="smtp.firm.cn", **STRONG)
    with pytest.raises(ValueError) as every:  # the default enables all four
        Settings(mode=Mode.production, **STRONG)
    for named in ("NOTIFY_SMTP_HOST", "NOTIFY_SMS_URL", "NOTIFY_WECOM_CORP_ID", "NOTIFY_OA_URL"):
        assert named in str(every.value)


def test_production_starts_with_every_enabled_channel_served_or_with_in_app_only():
    served = Settings(mode=Mode.production, notify_channels="email,oa", notify_smtp_host="smtp.firm.cn",
                      notify_oa_url="https://oa.firm.cn/todo", notify_oa_secret="o" * 32, **STRONG)
    assert sorted(delivery_channels(served)) == ["email", "oa"]  # no file sink in production
    in_app_only = Settings(mode=Mode.production, notify_channels="", **STRONG)
    assert delivery_channels(in_app_only) == {}


def test_development_and_test_modes_fall_back_to_the_file_sinks(tmp_path):
    for mode, secrets in ((Mode.development, {}), (Mode.test, STRONG)):
        settings = Settings(mode=mode, data_dir=tmp_path, **secrets)  # every channel enabled, no gateway
        assert {name: type(c) for name, c in delivery_channels(settings).items()} == dict.fromkeys(
            ("email", "sms", "wecom", "oa"), FileSink)


@pytest.mark.parametrize("command", [["serve"], ["worker"]])
def test_serve_and_worker_stop_before_opening_anything_when_an_enabled_channel_has_no_gateway(command, tmp_path):
    from typer.testing import CliRunner

    from interfaces.cli.main import app as cli

    env = {"LEDGERFLOW_MODE": "production", "LEDGERFLOW_BOOTSTRAP_ADMIN_TOKEN": "a" * 32,
           "LEDGERFLOW_AUDIT_CHAIN_KEY": "b" * 32, "LEDGERFLOW_MASTER_KEY": "m" * 32,
           "LEDGERFLOW_DATA_DIR": str(tmp_path),
           "LEDGERFLOW_NOTIFY_CHANNELS": "sms"}
    result = CliRunner().invoke(cli, command, env=env)
    assert result.exit_code == 2
    assert "no gateway: sms" in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == []  # no engine started, nothing written
