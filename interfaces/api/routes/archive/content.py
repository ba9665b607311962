"""A document's bytes: downloaded or previewed, unchanged, never rendered in our origin."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from application.access.policy import Policy
from domain.archive.content import read_chunks
from domain.archive.rules import ALLOWED_TYPES
from domain.shared.text import MAX_INT
from interfaces.api.deps import ContainerDep
from interfaces.api.routes.archive.common import NOT_FOUND, PREFIX, RESOURCE, Reader, _disposition, _document

router = APIRouter(prefix=PREFIX, tags=["archive"])
# Served inline (previewed in the browser) only: raster images. Everything else, PDF included,
# is an attachment whatever the caller asks: a document rendered in our origin could run script.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/bmp"})


def _download_name(policy: Policy, document_id: UUID, chosen: dict[str, Any]) -> str:
    """The filename as the caller may see it: when a field rule hides or masks ``filename`` for
    them, a neutral ``document-<id>.<ext>`` (the extension from the sniffed type) instead."""
    filename = chosen["filename"]
    if policy.present(RESOURCE, {"filename": filename}).get("filename") == filename:
        return filename
    ext = ALLOWED_TYPES.get(chosen["media_type"], ("bin",))[0]
    return f"document-{document_id}.{ext}"


@router.get("/documents/{document_id}/content",
            summary="Download or preview a version's bytes, unchanged. Only images are served inline; everything "
                    "else is an attachment. Always sandboxed (CSP) and nosniff.",
            response_class=StreamingResponse, responses={
                200: {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                                  for t in ("application/octet-stream", *sorted(ALLOWED_TYPES))}},
                304: {"description": "If-None-Match matched"}, **NOT_FOUND})
def content(document_id: UUID, request: Request, container: ContainerDep, policy: Reader,
            version: Annotated[int | None, Query(ge=1, le=MAX_INT, description="Version number; default the current")]
            = None,
            download: Annotated[bool, Query(description="attachment instead of inline")] = False) -> Response:
    document = _document(container, policy, document_id)
    chosen, stream = container.archive.content(document, version)
    etag = f'"{chosen["sha256"]}"'
    inline = not download and chosen["media_type"] in INLINE_TYPES
    headers = {"ETag": etag, "Cache-Control": "private, max-age=0", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "sandbox",
               "Content-Disposition": _disposition("inline" if inline else "attachment",
                                                   _download_name(policy, document_id, chosen))}
    if request.headers.get("if-none-match") == etag:
        stream.close()
        return Response(status_code=304, headers=headers)
    headers["Content-Length"] = str(chosen["size"])

    def body() -> Iterator[bytes]:
        with stream:
            yield from read_chunks(stream, 256 * 1024)

    return StreamingResponse(body(), media_type=chosen["media_type"], headers=headers)
