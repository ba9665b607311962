"""Local servers standing in for an object-locked S3 bucket and an RFC 3161 time-stamping
authority (real sockets, real protocols: boto3 and pyHanko talk to them as to the real ones)."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from asn1crypto import keys, pem, tsp, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class FakeS3:
    """Path-style S3 with object lock: a PUT must carry COMPLIANCE retention, a locked object
    cannot be deleted or overwritten before its retain-until date. Buckets: name -> lock enabled."""

    def __init__(self, buckets: dict[str, bool]):
        self.buckets = buckets
        self.objects: dict[tuple[str, str], tuple[bytes, datetime]] = {}

    @contextmanager
    def running(self) -> Iterator[str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes = b"", content_type: str = "application/xml") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, code: str, message: str) -> None:
                self._answer(status, f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode())

            def _target(self) -> tuple[str, str, dict[str, str]]:
                parts = urlsplit(self.path)
                bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
                return bucket, key, {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}

            def do_GET(self) -> None:
                bucket, key, query = self._target()
                if bucket not in fake.buckets:
                    return self._error(404, "NoSuchBucket", "no such bucket")
                if not key and "object-lock" in query:
                    if not fake.buckets[bucket]:
                        return self._error(404, "ObjectLockConfigurationNotFoundError", "no object lock")
                    return self._answer(200, b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled"
                                             b"</ObjectLockEnabled></ObjectLockConfiguration>")
                if not key:
                    return self._list(bucket, query.get("prefix", ""), int(query.get("max-keys", "1000")))
                found = fake.objects.get((bucket, key))
                if found is None:
                    return self._error(404, "NoSuchKey", "no such key")
                self._answer(200, found[0], "application/json")

            def _list(self, bucket: str, prefix: str, limit: int) -> None:
                keys_ = sorted(k for b, k in fake.objects if b == bucket and k.startswith(prefix))
                shown = keys_[:limit]
                contents = "".join(f"<Contents><Key>{escape(k)}</Key><Size>{len(fake.objects[(bucket, k)][0])}"
                                   "</Size></Contents>" for k in shown)
                self._answer(200, (f"<ListBucketResult><Name>{bucket}</Name><Prefix>{escape(prefix)}</Prefix>"
                                   f"<KeyCount>{len(shown)}</KeyCount><MaxKeys>{limit}</MaxKeys><IsTruncated>"
                                   f"{'true' if len(keys_) > limit else 'false'}</IsTruncated>{contents}"
                                   "</ListBucketResult>").encode())

            def do_PUT(self) -> None:
                bucket, key, _ = self._target()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if bucket not in fake.buckets:
                    return self._error(404, "NoSuchBucket", "no such bucket")
                mode = self.headers.get("x-amz-object-lock-mode")
                until = self.headers.get("x-amz-object-lock-retain-until-date")
                if mode != "COMPLIANCE" or not until:
                    return self._error(400, "InvalidRequest", "object lock COMPLIANCE retention required")
                if not fake.buckets[bucket]:
                    return self._error(400, "InvalidRequest", "bucket is missing object lock configuration")
                if self._locked(bucket, key):
                    return self._error(403, "AccessDenied", "object is WORM protected")
                fake.objects[(bucket, key)] = (body, datetime.fromisoformat(until.replace("Z", "+00:00")))
                self._answer(200)

            def do_DELETE(self) -> None:
                bucket, key, _ = self._target()
                if self._locked(bucket, key):
                    return self._error(403, "AccessDenied", "object is WORM protected")
                fake.objects.pop((bucket, key), None)
                self._answer(204)

            def _locked(self, bucket: str, key: str) -> bool:
                found = fake.objects.get((bucket, key))
                return found is not None and found[1] > datetime.now(UTC)

        with serving(Handler) as url:
            yield url


def tsa_identity() -> tuple[x509.Certificate, keys.PrivateKeyInfo]:
    """A self-signed time-stamping certificate (extended key usage timeStamping, critical)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's dummy TSA signs RSA only
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "Ledgerflow test TSA")])
    now = datetime.now(UTC)
    cert = (cx509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(cx509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(key, hashes.SHA256()))
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return (x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            keys.PrivateKeyInfo.load(der_key))


@contextmanager
def fake_tsa(cert_pem: Path | None = None, at: datetime | None = None) -> Iterator[str]:
    """RFC 3161 over HTTP: a TimeStampReq in, a TimeStampResp signed by the test TSA out (its
    certificate written to ``cert_pem`` when given, as the trust root; ``at``: the time it
    stamps, else the current time)."""
    cert, key = tsa_identity()
    if cert_pem is not None:
        cert_pem.write_bytes(pem.armor("CERTIFICATE", cert.dump()))
    stamper = DummyTimeStamper(tsa_cert=cert, tsa_key=key, fixed_dt=at)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = asyncio.run(stamper.async_request_tsa_response(request)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as url:
        yield url + "/tsa"
