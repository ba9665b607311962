"""Media-type sniffing from the content's first bytes (the ``filetype`` library: magic numbers,
no system libmagic). The declared type and extension are never trusted."""
from __future__ import annotations

import filetype

SNIFF_BYTES = 8192


def sniff(head: bytes) -> str | None:
    kind = filetype.guess(head[:SNIFF_BYTES])
    return kind.mime if kind is not None else None
