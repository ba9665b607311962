"""The firm's seal certificate: a PKCS#12 file from settings, or, in development and test modes
when none is configured, a development CA and seal certificate generated once into the data
directory (the ``cryptography`` library). A development certificate proves nothing to anyone
outside: it is logged as such at start and reported as such by every verification."""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

DEV_DIR = "signatures/dev"
DEV_CA_NAME = "Ledgerflow Development Seal CA (NOT FOR PRODUCTION)"
DEV_SEAL_NAME = "Ledgerflow Development Seal (NOT FOR PRODUCTION)"


@dataclass(frozen=True)
class SealMaterial:
    """What the sealer needs: the PKCS#12 bytes (key, certificate, chain), its passphrase, the
    trust roots verification anchors in (PEM), and whether it is the development certificate."""

    pkcs12: bytes
    passphrase: bytes | None
    trust_roots_pem: bytes
    development: bool


def configured(pkcs12_path: Path, passphrase: str | None, trust_roots: Path | None) -> SealMaterial:
    """The firm's own certificate. Trust roots: the given PEM file, else the self-signed
    certificates in the PKCS#12 chain (the firm's CA shipped with its seal)."""
    data = pkcs12_path.read_bytes()
    secret = passphrase.encode() if passphrase else None
    _, cert, chain = pkcs12.load_key_and_certificates(data, secret)
    if trust_roots is not None:
        roots = trust_roots.read_bytes()
    else:
        selfsigned = [c for c in chain if c.issuer == c.subject]
        if not selfsigned:
            raise ValueError("the seal's PKCS#12 holds no root certificate: set LEDGERFLOW_SIGNATURES_TRUST_ROOTS")
        roots = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in selfsigned)
    log.info("e-signature: sealing with %s", cert.subject.rfc4514_string() if cert else "?")
    return SealMaterial(data, secret, roots, development=False)


def development(data_dir: Path) -> SealMaterial:
    """The development CA and seal, generated on first use and kept under ``data_dir``. Several
    processes may start at once: each writes into a private directory and renames it into place;
    whoever comes second uses the first one's."""
    folder = data_dir / DEV_DIR
    if not (folder / "seal.p12").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".dev-"))
        _generate(staging)
        try:
            os.rename(staging, folder)
        except OSError:   # another process was first
            for leftover in staging.iterdir():
                leftover.unlink()
            staging.rmdir()
    log.warning("e-signature: sealing with a DEVELOPMENT certificate (%s); signatures made with it prove nothing "
                "outside this installation. Set LEDGERFLOW_SIGNATURES_PKCS12_PATH for a real one.", folder)
    return SealMaterial((folder / "seal.p12").read_bytes(), None, (folder / "ca.pem").read_bytes(), development=True)


def _generate(folder: Path) -> None:
    now = datetime.now(timezone.utc) - timedelta(minutes=5)   # tolerate small clock skew between hosts
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEV_CA_NAME),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ledgerflow development")])
    ca = (_builder(ca_name, ca_name, ca_key.public_key(), now, days=3650)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_usage(cert_sign=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEV_SEAL_NAME),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ledgerflow development")])
    seal = (_builder(name, ca_name, key.public_key(), now, days=825)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    # The key file is as secret as the data directory it lives in (development only): no passphrase.
    p12 = pkcs12.serialize_key_and_certificates(b"ledgerflow-dev-seal", key, seal, [ca],
                                                serialization.NoEncryption())
    _write(folder / "seal.p12", p12)
    _write(folder / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, start: datetime,
             days: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    # A seal signs documents (digitalSignature + nonRepudiation); the CA only certificates and CRLs.
    return x509.KeyUsage(digital_signature=not cert_sign, content_commitment=not cert_sign, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
