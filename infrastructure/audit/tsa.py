"""RFC 3161 anchor: a time-stamping authority signs each checkpoint's digest, and the token is
kept beside the checkpoint in a local JSON-lines file. The token proves the checkpoint existed
at the TSA's time, signed by a key nobody at the firm holds; a line whose token does not cover
it (a changed checkpoint, a token copied from another line) is reported. pyHanko's RFC 3161
client (already used for PAdES seals, ADR 0022) builds the request and checks the answer's
nonce; its CMS validation checks the token's signature and message imprint."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from datetime import timedelta
from pathlib import Path

from asn1crypto import cms, pem, x509
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from domain.audit.anchors import AnchoredEntry, Checkpoint
from infrastructure.audit.lines import append_line, entry, newest_lines

log = logging.getLogger("ledgerflow.audit")


# The most a token's time may differ from the checkpoint's ``at`` (the token is asked for right
# after the checkpoint is signed; clocks drift a little).
TIME_TOLERANCE = timedelta(minutes=5)


class TsaAnchor:
    """``trust``: PEM file of the TSA's root certificate(s); then a token must chain to one of
    them. Without it, a token signed by ANY certificate is accepted (its signature, imprint and
    time are checked, not who signed it): anyone can mint one, so it proves nothing more than
    the checkpoint's MAC; a warning is logged when such an anchor is set up."""

    def __init__(self, url: str, tokens: Path, *, trust: Path | None = None, timeout: float = 10.0):
        self.url, self.tokens = url, tokens
        self.local_file: Path | None = tokens
        self.description = f"time-stamping authority {url} (tokens in {tokens})"
        self.roots = load_roots(trust) if trust else []
        if not trust:
            log.warning("audit anchor %s has no trust root (trust=): a time-stamp token signed by any "
                        "certificate is accepted", url)
        self._client = RequestsHTTPTimeStamper(url, timeout=timeout)

    def append(self, checkpoint: Checkpoint) -> None:
        digest = hashlib.sha256(checkpoint.payload).digest()
        token = asyncio.run(self._client.async_timestamp(digest, "sha256"))
        append_line(self.tokens, {**checkpoint.to_json(), "tsa_token": base64.b64encode(token.dump()).decode()})

    def latest(self, limit: int) -> list[AnchoredEntry]:
        """Every line (their MACs and order are checked); the tokens of the ``limit`` newest
        (validating a token costs milliseconds, a MAC microseconds)."""
        out = []
        for index, (number, record, error) in enumerate(newest_lines(self.tokens)):
            found = entry(f"{self.tokens.name}:{number}", record, error)
            if index < limit and found.checkpoint is not None and record is not None:
                problem = token_problem(record.get("tsa_token"), found.checkpoint, self.roots)
                if problem:
                    found = AnchoredEntry(found.where, None, problem)
            out.append(found)
        return out


def load_roots(path: Path) -> list[x509.Certificate]:
    return [x509.Certificate.load(der) for _, _, der in pem.unarmor(path.read_bytes(), multiple=True)]


def token_problem(token: object, checkpoint: Checkpoint, roots: list[x509.Certificate]) -> str | None:
    """Why the stored token does not vouch for the checkpoint (None: it does)."""
    if not isinstance(token, str):
        return "no time-stamp token"
    try:
        info = cms.ContentInfo.load(base64.b64decode(token, validate=True))
        signed = info["content"]
        if not isinstance(signed, cms.SignedData):
            return "the time-stamp token is not CMS SignedData"
        payload = checkpoint.payload
        # Explicit roots (possibly none): never the operating system's trust list.
        context = ValidationContext(trust_roots=roots)
        status = asyncio.run(validate_tst_signed_data(
            signed, context, lambda algorithm: hashlib.new(algorithm, payload).digest()))
    except Exception as exc:  # any malformed token is a finding, not a crash of verify
        return f"the time-stamp token is unreadable ({type(exc).__name__})"
    if not status.get("intact"):
        return "the time-stamp token does not cover this checkpoint (message imprint differs)"
    if not status.get("valid"):
        return "the time-stamp token's signature is not valid"
    if roots and status.get("trust_problem_indic") is not None:
        return "the time-stamp token was not signed by a trusted time-stamping authority"
    stamped = signed["encap_content_info"]["content"].parsed["gen_time"].native
    if abs(stamped - checkpoint.at) > TIME_TOLERANCE:
        return (f"the time-stamp token's time {stamped.isoformat(timespec='seconds')} is not the "
                f"checkpoint's ({checkpoint.at.isoformat(timespec='seconds')})")
    return None
