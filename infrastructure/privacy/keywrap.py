"""The local ``KeyWrapper``: subject keys wrapped with AES-256-GCM under a master key from
settings (LEDGERFLOW_MASTER_KEY). A cloud KMS or Vault Transit adapter implements the same
port with the service's encrypt/decrypt calls, the context as its encryption context."""
from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class LocalKeyWrapper:
    def __init__(self, master_secret: bytes):
        if len(master_secret) < 16:
            raise ValueError("the master key must be at least 16 bytes")
        # The setting is text of any length: HKDF makes it the 256-bit key AES wants.
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"ledgerflow subject-key wrapping v1").derive(master_secret)
        self._aead = AESGCM(key)
        # Names the master key in key rows without revealing it (a hash of the derived key).
        self._key_id = "local:" + hashlib.sha256(b"key id" + key).hexdigest()[:16]

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, key: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, context.encode())

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context.encode())
