"""Passwords (argon2id, via argon2-cffi) and opaque tokens (random, stored as SHA-256).

Tokens carry 256 bits of randomness, so a fast hash is enough to store them; passwords
are low-entropy and get argon2's memory-hard hashing."""
from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from application.shared.tokens import token_hash

__all__ = ["ACCESS_PREFIX", "API_PREFIX", "REFRESH_PREFIX", "hash_password", "new_token", "token_hash",
           "verify_password"]

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("dummy-password-for-timing")

ACCESS_PREFIX, REFRESH_PREFIX, API_PREFIX = "lfa_", "lfr_", "lft_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        # Verify against a dummy hash when there is none, so timing does not reveal accounts.
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)

