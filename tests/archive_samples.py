"""Small, valid sample contents for archive tests (magic numbers real, bodies random)."""
from __future__ import annotations

import os


def png(n: int = 2048) -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(n)


def jpeg(n: int = 2048) -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(n)


def pdf(n: int = 2048) -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + os.urandom(n) + b"\n%%EOF\n"
