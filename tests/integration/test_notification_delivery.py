"""External delivery through the outbox (ADR 0015), on real engines (both modes) and local fake
gateways: once per channel, never twice after a crash between send and record, backoff then
the dead-letter list, and several workers sharing the table without sending a row twice."""
from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest

from domain.notifications.delivery import Message, Receipt
from infrastructure.notifications.email import message_id
from tests.integration.notification_outbox import UI, Clock, Fakes, delivery_container, enqueue, row, worker

WANG = "operator:wang.fang"
LINK = f"{UI}/flows/instances/42"
# What the projection puts in an OA row's payload (projections/notifications/flows.py).
OA_PAYLOAD = {"url": LINK, "instance_id": "42", "title": "甲公司签约", "node": "运营审核",
              "summary": {"业务": "租户签约", "客户": "甲公司", "发起人": "sam"}}


@pytest.fixture
def fakes():
    with Fakes.running() as running:
        yield running


@pytest.fixture
def delivery(engines, tmp_path, fakes):
    with delivery_container(engines, tmp_path, fakes) as container:
        yield container


class ProcessDied(BaseException):
    """The worker's process ending between a gateway's answer and the record of it."""


class DiesAfterSending:
    def __init__(self, channel):
        self.channel = channel
        self.dedup_seconds = channel.dedup_seconds

    def send(self, message: Message, idempotency_key: str) -> Receipt:
        self.channel.send(message, idempotency_key)
        raise ProcessDied


def test_a_notification_is_delivered_once_on_each_channel(delivery, fakes):
    event = uuid.uuid4()
    keys = {channel: enqueue(delivery, WANG, channel, event_id=event, link=LINK,
                             payload=OA_PAYLOAD if channel == "oa" else {"url": LINK})
            for channel in ("email", "sms", "wecom", "oa")}
    notifier = worker(delivery)

    assert notifier.tick() == {"sent": 4}
    (mail,) = fakes.mailbox.messages
    assert (mail["To"], mail["Subject"]) == ("wang.fang@firm.cn", "待办：甲公司签约")
    assert mail["Message-ID"] == message_id(keys["email"], "noreply@firm.cn")
    assert LINK in mail.get_content()
    assert fakes.sms.delivered[keys["sms"]]["phone"] == "13812345678"
    (card,) = fakes.wecom.delivered
    assert (card["touser"], card["msgtype"], card["agentid"]) == ("wang.fang", "textcard", 1000002)
    assert card["textcard"]["url"] == LINK and card["enable_duplicate_check"] == 1
    todo = fakes.oa.delivered[keys["oa"]]
    assert (todo["recipient"], todo["fields"]["客户"], todo["link"]) == ("wang.fang", "甲公司", LINK)
    assert todo["extra"] == {"instance_id": "42", "title": "甲公司签约", "node": "运营审核"}
    for key in keys.values():
        sent = row(delivery, key)
        assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None) and sent.sent_at is not None

    for channel in keys:  # the projection replayed: the same keys, nothing enqueued
        enqueue(delivery, WANG, channel, event_id=event)
    assert notifier.tick() == {}
    assert (len(fakes.mailbox.messages), len(fakes.sms.requests), fakes.wecom.sends, fakes.oa.requests) == (1, 1, 1, 1)


def test_a_crash_between_send_and_record_does_not_deliver_twice(delivery, fakes):
    keys = {channel: enqueue(delivery, WANG, channel, link=LINK) for channel in
            ("email", "sms", "wecom", "oa")}
    clock = Clock()
    dying = worker(delivery, clock, batch_size=1,
                   channels={name: DiesAfterSending(c) for name, c in delivery.notifier.channels.items()})
    for _ in keys:
        with pytest.raises(ProcessDied):
            dying.tick()
    assert {row(delivery, k).status for k in keys.values()} == {"sending"}

    restarted = worker(delivery, clock, lease_seconds=300)
    assert restarted.recover() == {}  # within the lease a send may still be under way
    clock.advance(301)
    assert restarted.recover() == {"pending": 3, "in_doubt": 1}
    assert restarted.tick() == {"sent": 3}

    assert len(fakes.mailbox.messages) == 1
    doubt = row(delivery, keys["email"])
    assert doubt.status == "in_doubt" and "may have been delivered" in (doubt.last_error or "")
    assert fakes.sms.requests == [keys["sms"]] * 2 and list(fakes.sms.delivered) == [keys["sms"]]
    assert (fakes.wecom.sends, len(fakes.wecom.delivered)) == (2, 1)
    assert (fakes.oa.requests, list(fakes.oa.delivered)) == (2, [keys["oa"]])
    assert {row(delivery, keys[c]).status for c in ("sms", "wecom", "oa")} == {"sent"}


def test_failures_back_off_then_the_delivery_is_dead(delivery, fakes, caplog):
    fakes.sms.fail = 100
    key = enqueue(delivery, WANG, "sms")
    clock = Clock()
    notifier = worker(delivery, clock, max_attempts=3)
    caplog.set_level(logging.WARNING, logger="application.notifications.delivery_worker")

    waits = []
    for attempt in (1, 2):
        assert notifier.tick() == {"failed": 1}
        failed = row(delivery, key)
        assert (failed.status, failed.attempts) == ("failed", attempt)
        assert "HTTP 503: upstream busy" in (failed.last_error or "")
        waits.append((failed.next_attempt_at - clock.now).total_seconds())
        assert notifier.tick() == {}  # not due before its backoff
        clock.advance(waits[-1] + 0.001)
    assert 15 <= waits[0] <= 30 and 30 <= waits[1] <= 60
    assert notifier.tick() == {"dead": 1}
    clock.advance(86_400)
    assert notifier.tick() == {}
    dead = row(delivery, key)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert len(fakes.sms.requests) == 3 and not fakes.sms.delivered
    lines = [r for r in caplog.records if r.name.endswith("delivery_worker")]
    assert len(lines) == 3 and all(not r.exc_info and "\n" not in r.getMessage() for r in lines)
    assert "attempt 3 of 3 failed" in lines[-1].getMessage() and lines[-1].getMessage().endswith("; dead")


def test_a_refused_or_missing_address_is_dead_at_once_and_never_logged(delivery, fakes, caplog):
    fakes.mailbox.refuse.add("wang.fang@firm.cn")
    refused = enqueue(delivery, WANG, "email")
    no_phone = enqueue(delivery, "operator:li.lei", "sms")
    disabled = enqueue(delivery, "operator:gone", "wecom")
    unknown = enqueue(delivery, "operator:nobody", "oa")
    caplog.set_level(logging.WARNING)

    assert worker(delivery).tick() == {"dead": 4}
    assert row(delivery, refused).last_error.startswith("SMTP refused the recipient: 550")
    assert "<address>" in row(delivery, refused).last_error
    assert "operator:li.lei has no sms address" in row(delivery, no_phone).last_error
    assert "no wecom address" in row(delivery, disabled).last_error
    assert "no oa address" in row(delivery, unknown).last_error
    assert "wang.fang@firm.cn" not in caplog.text
    assert not fakes.mailbox.messages and not fakes.sms.requests and not fakes.wecom.sends


def test_two_workers_never_deliver_the_same_row_twice(delivery, fakes):
    keys = {enqueue(delivery, WANG, "sms", body=f"第{i}条") for i in range(300)}
    workers = [worker(delivery, batch_size=20, concurrency=4) for _ in range(2)]

    def drain(notifier):
        while notifier.tick():
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for w in workers:
        w.stop()

    assert sorted(fakes.sms.requests) == sorted(keys)  # each key sent exactly once, none deduplicated
    assert sum(w.totals["sent"] for w in workers) == 300 and all(w.totals["sent"] > 0 for w in workers)
    assert {row(delivery, k).status for k in keys} == {"sent"}


def test_the_worker_runs_beside_the_projection_workers_and_stops_promptly(engines, tmp_path):
    with delivery_container(engines, tmp_path, None, notify_poll_seconds=0.05) as container:
        container.start_workers()
        key = enqueue(container, WANG, "sms", body="到期提醒")
        deadline = time.monotonic() + 10
        while row(container, key).status != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert row(container, key).status == "sent"
        sink = (tmp_path / "notifications" / "sms.jsonl").read_text(encoding="utf-8")
        assert key in sink and "13812345678" in sink
        started = time.monotonic()
        container.notifier.stop()
        assert time.monotonic() - started < 1.0


class Held:
    """Holds its first send until released, to stop a worker in the middle of a batch."""

    def __init__(self, channel):
        self.channel, self.dedup_seconds = channel, channel.dedup_seconds
        self.entered, self.release = threading.Event(), threading.Event()

    def send(self, message: Message, idempotency_key: str) -> Receipt:
        self.entered.set()
        self.release.wait(5)
        return self.channel.send(message, idempotency_key)


def test_a_stopped_worker_finishes_its_send_and_puts_the_untried_rows_back(delivery, fakes):
    keys = [enqueue(delivery, WANG, "email", body=f"第{i}条") for i in range(3)]
    held = Held(delivery.notifier.channels["email"])
    notifier = worker(delivery, channels={"email": held}, poll_seconds=0.05)
    notifier.start()
    assert held.entered.wait(5)
    notifier.stop(timeout=0)  # asked to stop while the first e-mail is being sent
    held.release.set()
    deadline = time.monotonic() + 5
    while "sending" in {row(delivery, k).status for k in keys} and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(row(delivery, k).status, row(delivery, k).attempts) for k in keys] == [
        ("sent", 1), ("pending", 0), ("pending", 0)]  # not in doubt: never tried
    assert len(fakes.mailbox.messages) == 1
