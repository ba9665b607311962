"""Ports of the privacy context: key wrapping (a local master key, a cloud KMS, Vault Transit)
and the keyed hash used where personal values must be compared for equality."""
from __future__ import annotations

from typing import Protocol


class KeyWrapper(Protocol):
    """Encrypts (wraps) and decrypts (unwraps) subject keys under a master key the adapter holds.

    ``context`` is bound to the wrapped key (additional authenticated data, a KMS encryption
    context): a wrapped key copied to another subject's row does not unwrap. ``key_id`` names
    the master key that wrapped, so keys wrapped under an older master key can be rewrapped."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, key: bytes, context: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: str) -> bytes: ...


class BlindIndex(Protocol):
    """A keyed hash of a personal value: equal values give equal digests, and nobody without the
    index key can test a guess (a phone number has too few possibilities for a plain hash)."""

    def digest(self, kind: str, value: str) -> str: ...
