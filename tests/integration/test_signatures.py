"""E-signature on real engines: the tenant signs through the one-time link, the firm's seal is
applied and verifies, the sealed PDF is archived under the customer and the business, and the
waiting flow hears how it ended. Links are single use, expire, can be revoked or replaced."""
from __future__ import annotations

from datetime import timedelta

import pytest

from application.signatures.hook import ESignHook
from application.signatures.ports import Client, Signer
from domain.shared.context import CommandContext
from domain.shared.errors import ConflictError
from domain.signatures.consent import CONSENT_VERSION
from domain.signatures.errors import SigningLinkGoneError, SigningLinkUnknownError, SigningLinkUsedError
from domain.signatures.request import SigningRequest
from tests.signing_helpers import (
    SETUP,
    SIGNER,
    TENANT,
    Clock,
    Completions,
    archived_agreement,
    hook_request,
    link_for,
    token_of,
)

pytestmark = pytest.mark.usefixtures("embedded_only")

BROWSER = Client("203.0.113.7", "Mozilla/5.0 (iPhone) 掌厅")


@pytest.fixture
def signing(container):
    container.access.create_business_line(SETUP, "brokerage", "Brokerage")
    hq = container.access.create_department(SETUP, "HQ", "HQ", "head_office", None).id
    sh01 = container.access.create_department(SETUP, "SH01", "SH01", "branch", hq).id
    app = container.signatures
    app.clock, app.on_complete = Clock(), Completions()
    document_id = archived_agreement(container, sh01)
    return container, app, ESignHook(app), document_id, sh01


def sign(app, token, name=SIGNER, client=BROWSER):
    return app.sign_with_link(token, signer_name=name, consent_version=CONSENT_VERSION, client=client,
                              correlation_id="corr-sign")


def test_the_tenant_signs_through_the_link_and_the_sealed_pdf_verifies_and_is_filed(signing):
    container, app, hook, document_id, sh01 = signing
    request = hook_request(document_id, sh01)
    waiting = hook.run(request)
    assert waiting.status == "waiting" and "link" not in waiting.result
    token = token_of(link_for(app, waiting))
    assert app.view_link(token, BROWSER, "corr-view").signer_name == SIGNER
    _, original = app.link_document(token, BROWSER, "corr-view")
    assert original.startswith(b"%PDF")

    outcome = sign(app, token)
    assert outcome.status == "sealed"
    assert app.on_complete.calls == [(request.request_id, "done", {"signed_document_id": str(outcome.signed_document_id),
                                                                   "sha256": outcome.sha256})]
    signed = container.archive.document(outcome.signed_document_id)
    assert (signed.customer, signed.business_line, signed.department_id) == (TENANT, "brokerage", sh01)
    assert (signed.flow_instance, signed.business_type) == (request.instance_id, "tenant_signing")
    assert signed.current["sha256"] == outcome.sha256 and signed.source == "e_signature"

    container.runners["signatures.requests"].catch_up()
    report, sealed_by = app.verify_document(outcome.signed_document_id)
    assert report.valid and report.sha256 == outcome.sha256 and report.development_certificate
    assert sealed_by is not None and str(sealed_by["id"]) == waiting.result["signing_request_id"]
    assert report.signatures[0].name == SIGNER and CONSENT_VERSION in report.signatures[0].reason

    _, stream = container.archive.content(signed)
    tampered = bytearray(stream.read())
    stream.close()
    tampered[tampered.index(b"Tenant agreement")] ^= 0x20
    assert not app.verify_pdf(bytes(tampered)).valid


def test_consent_is_recorded_with_name_time_and_client_details_in_events(signing):
    container, app, hook, document_id, sh01 = signing
    token = token_of(link_for(app, hook.run(hook_request(document_id, sh01))))
    outcome = sign(app, token, name=" 王小明 ")
    stored = list(container.store.recorder.select_events(outcome.request_id))
    events = [container.signatures.mapper.to_domain_event(e) for e in stored]
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Requested", "LinkReissued", "Signed", "Sealed"]
    signed = events[2]
    assert (signed.signer_name, signed.consent_version, signed.client_ip, signed.user_agent) == (
        "王小明", CONSENT_VERSION, BROWSER.ip, BROWSER.user_agent)
    assert signed.signed_at == app.clock.now and signed.actor == f"signer:{outcome.request_id}"
    assert events[3].sealed_sha256 == outcome.sha256
    assert all(token not in repr(vars(e)) for e in events)   # only the link's hash is ever stored


def test_a_link_signs_once(signing):
    _, app, hook, document_id, sh01 = signing
    token = token_of(link_for(app, hook.run(hook_request(document_id, sh01))))
    sign(app, token)
    with pytest.raises(SigningLinkUsedError):
        sign(app, token)
    with pytest.raises(SigningLinkUsedError):
        app.view_link(token, BROWSER, "corr")


def test_an_expired_link_answers_gone_and_the_flow_hears_it(signing):
    container, app, hook, document_id, sh01 = signing
    request = hook_request(document_id, sh01, expires_hours=2)
    token = token_of(link_for(app, hook.run(request), expires_hours=2))
    app.clock.now += timedelta(hours=2)
    with pytest.raises(SigningLinkGoneError) as gone:
        sign(app, token)
    assert gone.value.code == "signing_link_expired"
    assert app.on_complete.calls == [(request.request_id, "failed", {"problem": "expired"})]
    assert hook.run(request).result == {"problem": "expired"}


def test_expire_due_expires_what_nobody_opened(signing):
    container, app, hook, document_id, sh01 = signing
    request = hook_request(document_id, sh01, expires_hours=1)
    hook.run(request)
    container.runners["signatures.requests"].catch_up()
    assert app.expire_due(app.clock.now) == []
    expired = app.expire_due(app.clock.now + timedelta(hours=1))
    assert len(expired) == 1 and app.signing_request(expired[0]).status == "expired"
    assert app.on_complete.calls == [(request.request_id, "failed", {"problem": "expired"})]


def test_a_revoked_link_answers_gone_and_the_flow_hears_it(signing):
    _, app, hook, document_id, sh01 = signing
    request = hook_request(document_id, sh01)
    waiting = hook.run(request)
    token = token_of(link_for(app, waiting))
    app.revoke(SETUP, waiting.result["signing_request_id"], "wrong agreement")
    with pytest.raises(SigningLinkGoneError) as gone:
        app.view_link(token, BROWSER, "corr")
    assert gone.value.code == "signing_link_revoked"
    assert app.on_complete.calls == [(request.request_id, "failed", {"problem": "revoked"})]
    with pytest.raises(ConflictError):
        app.revoke(SETUP, waiting.result["signing_request_id"], "again")


def test_the_hook_makes_one_request_per_visit_and_answers_repeats_from_its_state(signing):
    _, app, hook, document_id, sh01 = signing
    request = hook_request(document_id, sh01)
    first = hook.run(request)
    again = hook.run(request)  # the flow did not record the first answer: the same request, waiting
    assert again.status == "waiting" and again.result == first.result and "link" not in again.result
    token = token_of(link_for(app, first))
    app.view_link(token, BROWSER, "corr")
    assert hook.run(request).result == first.result
    outcome = sign(app, token)
    done = hook.run(request)
    assert (done.status, done.result) == ("done", {"signed_document_id": str(outcome.signed_document_id),
                                                   "sha256": outcome.sha256})
    assert len([c for c in app.on_complete.calls if c[1] == "done"]) == 1


def test_a_misconfigured_node_fails_instead_of_waiting_forever(signing):
    _, app, hook, document_id, sh01 = signing
    request = hook_request(document_id, sh01)
    broken = type(request)(**{**vars(request), "outputs": {}})
    assert hook.run(broken).status == "failed"
    not_pdf = type(request)(**{**vars(request), "outputs": {"generate_contract": {"document_id": "not-a-uuid"}}})
    assert hook.run(not_pdf).status == "failed"


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "../../etc/passwd" + "a" * 30, "\x00" * 40, "链" * 43,
                                   "a" * 5000])
def test_garbage_links_are_unknown(signing, token):
    _, app, *_ = signing
    with pytest.raises(SigningLinkUnknownError):
        app.view_link(token, BROWSER, "corr")


def test_staff_may_reissue_a_pending_link_for_the_demo_to_print(signing):
    _, app, hook, document_id, sh01 = signing
    first = app.request_signature(CommandContext("operator:sam", "c"), document_id, Signer(SIGNER))
    issued = app.reissue_link(SETUP, first.request_id, reason="print it for the demo")
    assert issued.path == f"/api/v1/sign/{issued.token}" and issued.url.endswith(issued.path)
    assert app.view_link(issued.token, BROWSER, "c").id == first.request_id
    assert isinstance(app.signing_request(first.request_id), SigningRequest)
