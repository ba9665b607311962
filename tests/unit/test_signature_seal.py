"""The firm's seal with pyHanko and the generated development certificate: a sealed PDF
verifies against the firm's trust root, with the signer's consent in the signature's fields; a
byte changed after sealing, anything appended, or a foreign certificate does not verify."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from domain.signatures.seal import SealDetails
from infrastructure.settings import InsecureSettingsError, Mode, Settings
from infrastructure.signatures.certificates import development
from infrastructure.signatures.factory import sealer_from_settings
from infrastructure.signatures.pades import PyHankoSealer
from interfaces.demo_archive import pdf

CONSENT = SealDetails(signer_name="张三", reason="租户签署 Signed by 张三 with consent 2026-11-v1", location="上海")


@pytest.fixture(scope="module")
def sealer(tmp_path_factory) -> PyHankoSealer:
    return PyHankoSealer(development(tmp_path_factory.mktemp("seal")))


@pytest.fixture(scope="module")
def sealed(sealer) -> bytes:
    return sealer.seal(pdf("Agreement 2026-001"), CONSENT)


def test_the_development_certificate_is_generated_once_and_reused(tmp_path: Path, caplog):
    with caplog.at_level(logging.WARNING):
        first = development(tmp_path)
    again = development(tmp_path)
    assert first.pkcs12 == again.pkcs12 and first.trust_roots_pem == again.trust_roots_pem
    assert first.development
    assert "DEVELOPMENT certificate" in caplog.text
    assert (tmp_path / "signatures/dev/seal.p12").stat().st_mode & 0o077 == 0   # the key is the owner's only


def test_a_sealed_pdf_verifies_with_the_consent_in_its_signature(sealer, sealed):
    report = sealer.verify(sealed)
    assert report.valid and report.development_certificate and report.problem is None
    [seal] = report.signatures
    assert seal.intact and seal.valid and seal.trusted and seal.covers_whole_file
    assert (seal.name, seal.reason, seal.location) == ("张三", CONSENT.reason, "上海")
    assert seal.certificate_fingerprint == sealer.certificate_fingerprint
    assert "Development Seal" in seal.signer and seal.signing_time is not None


def test_a_byte_changed_after_sealing_fails_verification(sealer, sealed):
    tampered = bytearray(sealed)
    tampered[sealed.index(b"Agreement 2026-001")] ^= 0x01
    report = sealer.verify(bytes(tampered))
    assert not report.valid
    assert not report.signatures[0].intact
    assert report.sha256 != sealer.verify(sealed).sha256


def test_content_appended_after_the_seal_is_not_covered(sealer, sealed):
    resealed = sealer.seal(sealed, SealDetails("李四", "again", ""))
    report = sealer.verify(resealed)
    assert not report.valid
    assert [s.covers_whole_file for s in report.signatures] == [False, True]


def test_a_seal_from_another_ca_is_not_trusted(sealed, tmp_path):
    stranger = PyHankoSealer(development(tmp_path))   # another installation's development CA
    report = stranger.verify(sealed)
    assert not report.valid and report.signatures[0].intact and not report.signatures[0].trusted


@pytest.mark.parametrize("garbage", [b"", b"not a pdf", pdf("unsigned"), b"%PDF-1.7\n" + b"\xff" * 100])
def test_garbage_and_unsigned_files_are_reported_never_raised(sealer, garbage):
    report = sealer.verify(garbage)
    assert not report.valid and report.problem


def test_production_refuses_to_seal_with_a_development_certificate(tmp_path):
    settings = Settings(mode=Mode.production, bootstrap_admin_token="a" * 32, audit_chain_key="b" * 32,
                        master_key="m" * 32,
                        notify_channels="", data_dir=tmp_path)
    with pytest.raises(InsecureSettingsError, match="LEDGERFLOW_SIGNATURES_PKCS12_PATH"):
        sealer_from_settings(settings)


def test_a_configured_pkcs12_seals_and_is_not_development(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    material = development(tmp_path / "firm")   # stands in for the firm's own CA and seal
    key, cert, chain = pkcs12.load_key_and_certificates(material.pkcs12, None)
    path = tmp_path / "firm-seal.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"seal", key, cert, chain, serialization.BestAvailableEncryption(b"s3cret-passphrase")))
    sealer = sealer_from_settings(Settings(data_dir=tmp_path, signatures_pkcs12_path=path,
                                           signatures_pkcs12_passphrase="s3cret-passphrase"))
    assert not sealer.development
    report = sealer.verify(sealer.seal(pdf("x"), CONSENT))
    assert report.valid and not report.development_certificate
