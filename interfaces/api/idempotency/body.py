"""A command's body read whole before it runs, and its fingerprint: an HMAC under a server key
(never a plain hash: the table would let its readers guess passwords offline) of the request
(method, path, query, X-On-Behalf-Of) and of its body in a canonical form."""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from typing import IO

from starlette.types import Message, Receive, Scope

from interfaces.api.boundary import is_json, media_type


class RequestBody:
    """The request body, read whole into a spool (so its fingerprint is known before anything runs)
    and handed to the application again."""

    CHUNK = 64 * 1024

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool
        self.fingerprint = b""
        self._last: Message | None = None  # what ended the body when it was not the body (a disconnect)

    @classmethod
    async def read(cls, scope: Scope, receive: Receive, spool: IO[bytes], key: bytes) -> RequestBody:
        body = cls(spool)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        canonical = Canonical(headers.get("content-type", ""))
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                body._last = message
                break
            chunk = message.get("body", b"")
            body.spool.write(chunk)
            canonical.update(chunk)
            more = message.get("more_body", False)
        digest = hmac.new(key, f"{scope['method']} {scope['path']}?{scope.get('query_string', b'').decode('latin-1')}"
                                f"\n{headers.get('x-on-behalf-of', '')}\n".encode(), hashlib.sha256)
        digest.update(canonical.digest())
        body.fingerprint = digest.digest()
        body.spool.seek(0)
        return body

    def replay(self, receive: Receive) -> Receive:
        chunks = self._chunks()

        async def replayed() -> Message:
            chunk = next(chunks, None)
            if chunk is not None:
                return {"type": "http.request", "body": chunk[0], "more_body": chunk[1]}
            if self._last is not None:
                return self._last
            return await receive()

        return replayed

    def _chunks(self) -> Iterator[tuple[bytes, bool]]:
        data = self.spool.read(self.CHUNK)
        while True:
            following = self.spool.read(self.CHUNK)
            yield data, bool(following)
            if not following:
                return
            data = following


class Canonical:
    """sha256 of the body in a form a faithful retry reproduces: JSON re-serialised with sorted
    keys and no spacing; a multipart body with its boundary (random per attempt) replaced."""

    def __init__(self, content_type: str):
        kind, _ = media_type(content_type)
        self.json = is_json(kind)
        self.hash = hashlib.sha256()
        self.raw: list[bytes] = []
        boundary = re.search(r'boundary="?([^";]+)"?', content_type) if kind == "multipart/form-data" else None
        self.marker = b"--" + boundary.group(1).encode("latin-1") if boundary else None
        self.tail = b""

    def update(self, chunk: bytes) -> None:
        if self.json:
            self.raw.append(chunk)
        elif self.marker is None:
            self.hash.update(chunk)
        else:
            data, start = self.tail + chunk, 0
            while (found := data.find(self.marker, start)) >= 0:
                self.hash.update(data[start:found] + b"--boundary")
                start = found + len(self.marker)
            cut = max(start, len(data) - len(self.marker) + 1)  # a marker may straddle two chunks
            self.hash.update(data[start:cut])
            self.tail = data[cut:]

    def digest(self) -> bytes:
        if self.json:
            raw = b"".join(self.raw)
            with contextlib.suppress(ValueError):  # not JSON: refused by the boundary before any route
                raw = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"),
                                 ensure_ascii=False).encode() if raw.strip() else b""
            self.hash.update(raw)
        else:
            self.hash.update(self.tail)
        return self.hash.digest()


