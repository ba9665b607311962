"""The signing request's rules, without engines: a link opens its request only while pending and
only if it is the current link; signing needs the expected name and the current consent; each
step is one event."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.shared.context import CommandContext, acting_as
from domain.signatures.consent import CONSENT_VERSION, same_name
from domain.signatures.errors import (
    ConsentOutdatedError,
    SignerNameMismatchError,
    SigningLinkGoneError,
    SigningLinkUsedError,
    SigningRequestClosedError,
)
from domain.signatures.request import MAX_RECORDED_VIEWS, SigningRequest

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def acting():
    with acting_as(CommandContext("operator:sam", "test")):
        yield


def request() -> SigningRequest:
    return SigningRequest(document_id=uuid4(), document_sha256="a" * 64, filename="协议.pdf", signer_name="张 三",
                          signer_phone=None, signer_email=None, token_hash="h1", expires_at=NOW + timedelta(hours=72),
                          business_line="brokerage", department_id=None, customer="C1", fund_account=None,
                          business_type="tenant_signing", flow_instance=None, flow_request=None)


def kinds(r: SigningRequest) -> list[str]:
    return [type(e).__name__ for e in r.collect_events()]


def test_a_typed_name_matches_across_widths_spaces_and_case():
    assert same_name("张三", "张 三") and same_name("ＬＩ Ｌｅｉ", "li lei")
    assert not same_name("张四", "张三") and not same_name("  ", "")


def test_only_the_current_link_opens_the_request():
    r = request()
    r.require_link("h1")
    with pytest.raises(SigningLinkGoneError) as gone:
        r.require_link("h0")
    assert gone.value.code == "signing_link_replaced"
    r.reissue("h2", NOW + timedelta(hours=1), "lost the SMS")
    with pytest.raises(SigningLinkGoneError):
        r.require_link("h1")
    r.require_link("h2")


def test_signing_records_consent_and_client_once():
    r = request()
    r.sign("张三", CONSENT_VERSION, NOW, "203.0.113.9", "Mozilla/5.0")
    assert r.signed == {"signer_name": "张三", "consent_version": CONSENT_VERSION, "signed_at": NOW,
                        "client_ip": "203.0.113.9", "user_agent": "Mozilla/5.0"}
    with pytest.raises(SigningLinkUsedError):
        r.require_link("h1")
    with pytest.raises(SigningLinkUsedError):
        r.sign("张三", CONSENT_VERSION, NOW, "x", "y")
    assert kinds(r) == ["Requested", "Signed"]


def test_a_wrong_name_or_an_old_consent_is_refused():
    r = request()
    with pytest.raises(SignerNameMismatchError):
        r.sign("李四", CONSENT_VERSION, NOW, "x", "y")
    with pytest.raises(ConsentOutdatedError):
        r.sign("张三", "2020-v0", NOW, "x", "y")
    assert r.status == "pending"


def test_expiry_and_revocation_close_the_link_with_410():
    due, revoked = request(), request()
    assert not due.is_due(NOW) and due.is_due(NOW + timedelta(hours=72))
    due.expire(NOW + timedelta(hours=72))
    revoked.revoke("wrong agreement")
    for r, code in ((due, "signing_link_expired"), (revoked, "signing_link_revoked")):
        with pytest.raises(SigningLinkGoneError) as gone:
            r.require_link("h1")
        assert gone.value.code == code
        with pytest.raises(SigningRequestClosedError):
            r.reissue("h9", NOW, "too late")


def test_views_are_recorded_once_per_client_and_bounded():
    r = request()
    assert r.view("1.1.1.1", "ua") and not r.view("1.1.1.1", "ua")
    for i in range(MAX_RECORDED_VIEWS * 2):
        r.view(f"10.0.0.{i}", "ua")
    assert kinds(r).count("LinkViewed") == MAX_RECORDED_VIEWS
