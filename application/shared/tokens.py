"""Opaque tokens are stored as SHA-256: they carry enough randomness that a fast hash is enough
(passwords, which do not, are hashed with argon2 in application/access/secrets.py). Shared by
every context that issues tokens: sessions and API tokens (access), channel intake tokens (leads)."""
from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
