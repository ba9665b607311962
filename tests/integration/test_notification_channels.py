"""Each channel adapter against its local fake server (real sockets, real protocols): WeCom's token
cache and refresh, SMTP with STARTTLS or implicit TLS and a login, the OA's and the SMS gateway's
signature and deduplication, and how refusals are classified (again later, or never)."""
from __future__ import annotations

import ssl
from dataclasses import replace

import pytest
import trustme
from aiosmtpd.smtp import AuthResult

from domain.notifications.delivery import DeliveryError, Message
from infrastructure.notifications.email import SmtpMailer
from infrastructure.notifications.oa import OaWebhook
from infrastructure.notifications.sms import HttpSmsGateway
from infrastructure.notifications.wecom import WeComApp
from tests.notification_fakes import FakeOa, FakeSmsGateway, FakeWeCom, Mailbox, free_port, smtp_server

MESSAGE = Message("wang.fang", "operator:wang.fang", "task_arrived", "zh", "待办：甲公司签约", "您有一条新的待办")


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wecom():
    fake = FakeWeCom("corp", "secret")
    yield fake
    fake.close()


def test_the_wecom_token_is_cached_and_fetched_again_when_it_expires(wecom):
    ticks = Ticks()
    app = WeComApp("corp", "secret", 1000002, base_url=wecom.url, clock=ticks)
    for i in range(3):
        app.send(MESSAGE, f"k{i}")
    assert (wecom.token_requests, wecom.sends, len(wecom.delivered)) == (1, 3, 3)

    wecom.expire()  # WeCom expired it early: 42001, a new token, the same message once more
    app.send(MESSAGE, "k3")
    assert (wecom.token_requests, wecom.sends, len(wecom.delivered)) == (2, 5, 4)

    ticks.now += 7200 - 299  # within five minutes of its end: fetched before WeCom refuses it
    app.send(MESSAGE, "k4")
    assert (wecom.token_requests, wecom.sends) == (3, 6)

    wecom.tokens.clear()  # WeCom forgot every token (40014)
    app.send(MESSAGE, "k5")
    assert (wecom.token_requests, len(wecom.delivered)) == (4, 6)


def test_wecom_recognises_a_repeat_by_key_but_not_two_alike_notifications(wecom):
    app = WeComApp("corp", "secret", 1000002, base_url=wecom.url)
    app.send(MESSAGE, "key-1")
    app.send(MESSAGE, "key-1")  # a resend after a crash
    app.send(MESSAGE, "key-2")  # another notification with the same words
    assert [m["text"]["content"].rsplit("ref ", 1)[1] for m in wecom.delivered] == [
        app.body(MESSAGE, "key-1")["text"]["content"].rsplit("ref ", 1)[1],
        app.body(MESSAGE, "key-2")["text"]["content"].rsplit("ref ", 1)[1]]


def test_wecom_credentials_refused_are_tried_again_later(wecom):
    app = WeComApp("corp", "wrong", 1000002, base_url=wecom.url)
    with pytest.raises(DeliveryError, match="gettoken failed.*40001") as refused:
        app.send(MESSAGE, "k")
    assert not refused.value.permanent


@pytest.fixture(scope="module")
def tls():
    ca = trustme.CA()
    return ca, ca.issue_cert("127.0.0.1")


def _login(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"ledgerflow" and auth_data.password == b"mail-password"
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_over_tls_with_a_login(tls, tmp_path, security):
    ca, cert = tls
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    mailbox = Mailbox()
    # (aiosmtpd offers AUTH over implicit TLS only when told TLS is not required: it knows STARTTLS only)
    options = ({"tls_context": server_tls, "require_starttls": True, "auth_require_tls": True}
               if security == "starttls" else {"ssl_context": server_tls, "auth_require_tls": False})
    # (PLAIN only: aiosmtpd's LOGIN does not take smtplib's initial response)
    server = smtp_server(mailbox, authenticator=_login, auth_exclude_mechanism=["LOGIN"], **options)
    try:
        def mailer(password: str) -> SmtpMailer:
            return SmtpMailer("127.0.0.1", server.port, "Ledgerflow <noreply@firm.cn>", security=security,
                              username="ledgerflow", password=password, ca_file=ca_file, timeout=5)

        mailer("mail-password").send(replace(MESSAGE, to="wang.fang@firm.cn"), "k1")
        assert [m["To"] for m in mailbox.messages] == ["wang.fang@firm.cn"]
        with pytest.raises(DeliveryError, match="535") as refused:
            mailer("wrong").send(MESSAGE, "k2")
        assert not refused.value.permanent  # our login, not the message: again later, once it is fixed
    finally:
        server.stop()


def test_smtp_without_tls_where_the_server_requires_it_is_refused_for_now(tls):
    ca, cert = tls
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_tls)
    mailbox = Mailbox()
    server = smtp_server(mailbox, tls_context=server_tls, require_starttls=True)
    try:
        with pytest.raises(DeliveryError, match="530") as refused:
            SmtpMailer("127.0.0.1", server.port, "noreply@firm.cn", security="none").send(MESSAGE, "k")
        assert not refused.value.permanent and not mailbox.messages
    finally:
        server.stop()


def test_an_unreachable_gateway_is_tried_again_later():
    for channel in (HttpSmsGateway(f"http://127.0.0.1:{free_port()}/sms", "s", timeout=2),
                    SmtpMailer("127.0.0.1", free_port(), "noreply@firm.cn", security="none", timeout=2)):
        with pytest.raises(DeliveryError, match="unreachable") as refused:
            channel.send(MESSAGE, "k")
        assert not refused.value.permanent


def test_the_oa_checks_the_signature_and_recognises_a_repeated_key():
    oa = FakeOa("oa-secret")
    try:
        OaWebhook(f"{oa.url}/todos", "oa-secret").send(MESSAGE, "k1")
        OaWebhook(f"{oa.url}/todos", "oa-secret").send(MESSAGE, "k1")
        assert (oa.requests, list(oa.delivered)) == (2, ["k1"])
        with pytest.raises(DeliveryError, match="HTTP 401: bad signature") as refused:
            OaWebhook(f"{oa.url}/todos", "another-secret").send(MESSAGE, "k2")
        assert refused.value.permanent
    finally:
        oa.close()


def test_the_sms_gateway_deduplicates_by_request_id_and_refuses_a_bad_phone_for_good():
    sms = FakeSmsGateway("sms-secret")
    try:
        gateway = HttpSmsGateway(f"{sms.url}/sms", "sms-secret")
        phone = replace(MESSAGE, to="13812345678")
        first, again = gateway.send(phone, "k1"), gateway.send(phone, "k1")
        assert (first.duplicate, again.duplicate, again.reference == first.reference) == (False, True, True)
        sms.refuse.add("13812345678")
        with pytest.raises(DeliveryError, match="HTTP 400") as refused:
            gateway.send(phone, "k2")
        assert refused.value.permanent
        sms.refuse.clear()
        sms.fail = 1
        with pytest.raises(DeliveryError, match="HTTP 503") as busy:
            gateway.send(phone, "k3")
        assert not busy.value.permanent
    finally:
        sms.close()
