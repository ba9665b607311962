"""The firm's seal as a PAdES signature, with pyHanko (ADR 0022): PAdES B-B, or B-T when a
timestamp authority is configured (the TSA is an optional port: pyHanko's RFC 3161 HTTP client,
or none). Verification checks every embedded signature against the firm's trust root only —
never the system's CA store: a seal is ours when it chains to our CA."""
from __future__ import annotations

import hashlib
import io
import logging

from asn1crypto import x509 as asn1_x509
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from domain.signatures.seal import SealDetails, SignatureCheck, Verification
from infrastructure.signatures.certificates import SealMaterial

log = logging.getLogger(__name__)
FIELD = "FirmSeal"


def http_timestamper(url: str | None, timeout: float = 10.0) -> TimeStamper | None:
    """The TSA port's real implementation (RFC 3161 over HTTP), or None for PAdES B-B."""
    return RequestsHTTPTimeStamper(url, timeout=timeout) if url else None


class PyHankoSealer:
    def __init__(self, material: SealMaterial, timestamper: TimeStamper | None = None):
        self._signer = signers.SimpleSigner.load_pkcs12_data(material.pkcs12, [], passphrase=material.passphrase)
        self._roots: list[asn1_x509.Certificate] = list(load_certs_from_pemder_data(material.trust_roots_pem))
        self._timestamper = timestamper
        self._development = material.development
        cert = self._signer.signing_cert
        if cert is None:
            raise ValueError("the seal's PKCS#12 holds no certificate")
        self._fingerprint = cert.sha256.hex()

    @property
    def certificate_fingerprint(self) -> str:
        return self._fingerprint

    @property
    def development(self) -> bool:
        return self._development

    def seal(self, pdf: bytes, details: SealDetails) -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        meta = signers.PdfSignatureMetadata(
            field_name=_free_field(writer), md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
            name=details.signer_name, reason=details.reason, location=details.location)
        out = signers.sign_pdf(writer, meta, signer=self._signer, timestamper=self._timestamper)
        return out.getvalue()

    def verify(self, pdf: bytes) -> Verification:
        digest = hashlib.sha256(pdf).hexdigest()
        try:
            reader = PdfFileReader(io.BytesIO(pdf), strict=False)
            embedded = list(reader.embedded_signatures)
        except Exception as exc:   # whatever the file is, the answer is "not a readable signed PDF"
            return Verification(digest, len(pdf), development_certificate=self._development,
                                problem=f"unreadable PDF ({type(exc).__name__})")
        if not embedded:
            return Verification(digest, len(pdf), development_certificate=self._development,
                                problem="the PDF carries no signature")
        checks, problem = [], None
        for signature in embedded:
            try:
                status = validate_pdf_signature(signature, ValidationContext(trust_roots=self._roots))
            except (SigningError, ValueError, KeyError, TypeError, AttributeError) as exc:
                problem = f"signature {signature.field_name!r} could not be checked ({type(exc).__name__})"
                continue
            checks.append(_check(signature.field_name, signature.sig_object, status))
        return Verification(digest, len(pdf), checks, development_certificate=self._development, problem=problem)


def _check(field_name: str, sig_object: dict, status: PdfSignatureStatus) -> SignatureCheck:
    cert = status.signing_cert
    return SignatureCheck(
        field_name=field_name, signer=cert.subject.human_friendly, certificate_fingerprint=cert.sha256.hex(),
        signing_time=status.signer_reported_dt, intact=bool(status.intact), valid=bool(status.valid),
        trusted=bool(status.trusted), covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        name=_text(sig_object.get("/Name")), reason=_text(sig_object.get("/Reason")),
        location=_text(sig_object.get("/Location")), timestamped=status.timestamp_validity is not None)


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def _free_field(writer: IncrementalPdfFileWriter) -> str:
    """A signature field name not yet used in the document (a re-sealed copy gets FirmSeal2...)."""
    taken = {name for name, _, _ in fields.enumerate_sig_fields(writer)}
    return next(f"{FIELD}{i or ''}" for i in range(len(taken) + 1) if f"{FIELD}{i or ''}" not in taken)
