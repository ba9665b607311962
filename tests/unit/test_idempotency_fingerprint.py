"""The fingerprint of a command's body (ADR 0025): a faithful retry matches, another body does not."""
from __future__ import annotations

import asyncio
import hashlib
import io

from infrastructure.eventstore.idempotency import fingerprint_key
from interfaces.api.idempotency.body import Canonical, RequestBody


def _digest(content_type: str, *chunks: bytes) -> bytes:
    canonical = Canonical(content_type)
    for chunk in chunks:
        canonical.update(chunk)
    return canonical.digest()


def _multipart(boundary: str, content: bytes) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()


def test_json_bodies_match_whatever_their_key_order_and_spacing():
    assert _digest("application/json", b'{"a": 1, "b": [1, 2]}') == _digest("application/json", b'{"b":[1,2],"a":1}')
    assert _digest("application/json", b'{"a": 1}') != _digest("application/json", b'{"a": 2}')


def test_a_multipart_retry_with_a_new_boundary_matches_however_it_is_chunked():
    first = _multipart("boundary-one-1111", b"%PDF-1.7 content")
    retry = _multipart("another-boundary-22", b"%PDF-1.7 content")
    chunked = [retry[i:i + 7] for i in range(0, len(retry), 7)]  # boundaries straddle chunks
    assert (_digest("multipart/form-data; boundary=boundary-one-1111", first)
            == _digest('multipart/form-data; boundary="another-boundary-22"', *chunked))
    other = _multipart("boundary-one-1111", b"%PDF-1.7 other content")
    assert (_digest("multipart/form-data; boundary=boundary-one-1111", first)
            != _digest("multipart/form-data; boundary=boundary-one-1111", other))


def test_other_bodies_are_compared_as_sent():
    assert _digest("text/csv", b"phone\n138", b"12345678\n") == _digest("text/csv", b"phone\n13812345678\n")
    assert _digest("text/csv", b"phone\n13812345678\n") != _digest("text/csv", b"phone\n13812345679\n")
    assert _digest("application/json") == _digest("application/json", b"")


def _fingerprint(key: bytes, body: bytes) -> bytes:
    scope = {"method": "PUT", "path": "/api/v1/users/u1/password", "query_string": b"",
             "headers": [(b"content-type", b"application/json")]}
    messages = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def receive():
        return next(messages)

    return asyncio.run(RequestBody.read(scope, receive, io.BytesIO(), key)).fingerprint


def test_a_stored_fingerprint_cannot_be_recomputed_without_the_server_key():
    """A set-password request's fingerprint must not let a reader of the table test guesses."""
    body = b'{"password": "Summer2026!"}'
    key = fingerprint_key(b"chain key of this installation")
    stored = _fingerprint(key, body)
    assert stored == _fingerprint(key, body)  # a faithful retry still matches
    assert stored != _fingerprint(fingerprint_key(b"another installation"), body)
    unkeyed = hashlib.sha256(b"PUT /api/v1/users/u1/password?\n\n")
    unkeyed.update(_digest("application/json", body))
    assert stored != unkeyed.digest()
