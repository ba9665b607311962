"""The seal as a port: what the signing use cases need from a PAdES implementation (pyHanko, in
infrastructure/signatures/), and what a verification reports. The application and the adapter
both speak these, so neither imports the other."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class SealDetails:
    """What the seal says about the signer's consent, in the signature's own fields."""

    signer_name: str     # the signature dictionary's /Name: the name the tenant typed
    reason: str          # /Reason: consent, its version and time, the request
    location: str        # /Location: where the firm seals


@dataclass(frozen=True)
class SignatureCheck:
    field_name: str
    signer: str                       # the signing certificate's subject
    certificate_fingerprint: str      # SHA-256 of the certificate (DER), hex
    signing_time: datetime | None
    intact: bool                      # the signed bytes hash to what the signature says
    valid: bool                       # the cryptographic signature checks out
    trusted: bool                     # the certificate chains to the firm's trust root
    covers_whole_file: bool           # nothing was appended after the signature
    name: str | None = None
    reason: str | None = None
    location: str | None = None
    timestamped: bool = False         # a timestamp authority's token is embedded (PAdES B-T)

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.covers_whole_file


@dataclass(frozen=True)
class Verification:
    sha256: str
    size: int
    signatures: list[SignatureCheck] = field(default_factory=list)
    development_certificate: bool = False   # the trust root is the generated development CA
    problem: str | None = None              # why the file could not be read as a signed PDF

    @property
    def valid(self) -> bool:
        return self.problem is None and bool(self.signatures) and all(s.ok for s in self.signatures)


class SealPort(Protocol):
    @property
    def certificate_fingerprint(self) -> str: ...

    @property
    def development(self) -> bool: ...

    def seal(self, pdf: bytes, details: SealDetails) -> bytes:
        """The PDF with the firm's PAdES signature appended (an incremental update)."""
        ...

    def verify(self, pdf: bytes) -> Verification:
        """Every signature of the PDF checked against the firm's trust root; never raises for a
        damaged or foreign file (``problem`` says what is wrong)."""
        ...
