"""What the delivery tests share: the fake gateways as settings, a few operators with addresses,
outbox rows inserted as the ``notifications.inbox`` projection writes them (the contract, so
these tests do not depend on the projection), and a worker on a test clock."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from application.notifications.delivery_worker import Notifier
from domain.notifications.delivery import OutboxRow, RetryPolicy
from domain.shared.context import CommandContext
from infrastructure.notifications.outbox import COLUMNS
from interfaces.bootstrap import Container
from tests.engines import EngineSet, running_container
from tests.notification_fakes import FakeOa, FakeSmsGateway, FakeWeCom, Mailbox, smtp_server

ADMIN = CommandContext("admin:test", "setup")
SMS_SECRET = "sms-gateway-secret-0123456789"
OA_SECRET = "oa-webhook-secret-0123456789"
CORP_ID, WECOM_SECRET, AGENT_ID = "ww0123456789abcdef", "wecom-app-secret", 1000002
UI = "https://ledgerflow.firm.cn"  # the projection writes absolute links (public_base_url)
# login: (phone, email, active)
PEOPLE = {"wang.fang": ("13812345678", "wang.fang@firm.cn", True), "li.lei": (None, "li.lei@firm.cn", True),
          "gone": ("13900000000", "gone@firm.cn", False)}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Fakes:
    mailbox: Mailbox
    smtp: Any
    sms: FakeSmsGateway
    wecom: FakeWeCom
    oa: FakeOa

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[Fakes]:
        mailbox = Mailbox()
        fakes = cls(mailbox, smtp_server(mailbox), FakeSmsGateway(SMS_SECRET), FakeWeCom(CORP_ID, WECOM_SECRET),
                    FakeOa(OA_SECRET))
        try:
            yield fakes
        finally:
            fakes.smtp.stop()
            for server in (fakes.sms, fakes.wecom, fakes.oa):
                server.close()

    def settings(self) -> dict[str, Any]:
        return dict(notify_smtp_host="127.0.0.1", notify_smtp_port=self.smtp.port, notify_smtp_security="none",
                    notify_smtp_from="Ledgerflow <noreply@firm.cn>", notify_sms_url=f"{self.sms.url}/sms",
                    notify_sms_secret=SMS_SECRET, notify_wecom_corp_id=CORP_ID, notify_wecom_secret=WECOM_SECRET,
                    notify_wecom_agent_id=AGENT_ID, notify_wecom_base_url=self.wecom.url,
                    notify_oa_url=f"{self.oa.url}/todos", notify_oa_secret=OA_SECRET, notify_timeout_seconds=5.0)


@contextmanager
def delivery_container(engines: EngineSet, tmp_path: Path, fakes: Fakes | None, **overrides: Any
                       ) -> Iterator[Container]:
    """A container whose channels point at the fakes (None: the file sinks), with the people."""
    settings = {**(fakes.settings() if fakes else {}), **overrides}
    with running_container(engines, tmp_path, **settings) as container:
        add_people(container)
        yield container


def add_people(container: Container) -> None:
    access = container.access
    hq = access.create_department(ADMIN, "HQ", "Head office", "head_office", None).id
    for login, (phone, mail, active) in PEOPLE.items():
        op = access.create_operator(ADMIN, login, login, hq, phone, mail, None).id
        if not active:
            access.disable_operator(ADMIN, op, "left the firm")
    container.runners["access.principals"].catch_up()


def enqueue(container: Container, recipient: str, channel: str, *, event_id: uuid.UUID | None = None,
            version: int = 1, subject: str = "待办：甲公司签约", body: str = "您有一条新的待办：甲公司签约",
            link: str | None = None, payload: dict[str, Any] | None = None, kind: str = "task_arrived",
            created_at: datetime | None = None, status: str = "pending", attempts: int = 0) -> str:
    """One row as the projection writes it; ON CONFLICT DO NOTHING like a replay. Its key."""
    event_id = event_id or uuid.uuid4()
    key = f"{event_id}:{version}:{recipient}:{channel}"
    created = created_at or datetime.now(timezone.utc) - timedelta(seconds=5)  # due on every test clock
    with container.store.datastore.get_connection() as conn:
        conn.execute(
            "INSERT INTO notifications_outbox (key, notification_id, recipient, channel, kind, language, subject,"
            " body, link, payload, status, attempts, next_attempt_at, created_at)"
            " VALUES (%s, %s, %s, %s, %s, 'zh', %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING",
            (key, uuid.uuid5(event_id, recipient), recipient, channel, kind, subject, body, link,
             orjson.dumps(payload or {}).decode(), status, attempts, created, created))
    return key


def row(container: Container, key: str) -> OutboxRow:
    found = container.notification_deliveries.outbox.get(key)
    assert found is not None, key
    return found


def statuses(container: Container) -> dict[str, str]:
    with container.store.datastore.get_connection() as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM notifications_outbox").fetchall()
    return {r["key"]: r["status"] for r in rows}


def worker(container: Container, clock: Clock | None = None, *, channels: dict[str, Any] | None = None,
           max_attempts: int = 8, **options: Any) -> Notifier:
    """A delivery worker like the container's (same adapters, same recipients) on a test clock."""
    base = container.notifier
    return Notifier(container.notification_deliveries.outbox, channels or base.channels, base.recipients,
                    policy=RetryPolicy(max_attempts, 30.0, 3600.0), clock=clock or Clock(),
                    **{"concurrency": 1, **options})
