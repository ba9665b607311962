"""The consent a signer gives, versioned: the signer sends back the version they were shown, so
the record says which words they agreed to (a later rewording never changes an old consent).
And how a typed name is compared with the expected one."""
from __future__ import annotations

import hashlib
import unicodedata

CONSENT_VERSION = "2026-11-v1"
CONSENT_TEXT = ("本人已完整阅读上述协议，确认其内容，同意以电子方式签署，并同意公司在协议上加盖电子印章。"
                " I have read the agreement above in full, confirm its content, agree to sign it electronically,"
                " and agree that the firm applies its electronic seal to it.")
CONSENT_SHA256 = hashlib.sha256(CONSENT_TEXT.encode()).hexdigest()


def same_name(typed: str, expected: str) -> bool:
    """Whether a typed name is the expected signer's: compared after NFKC (full-width letters,
    compatibility forms), without whitespace, case-insensitively. Anything else is a mismatch."""
    def key(name: str) -> str:
        return "".join(unicodedata.normalize("NFKC", name).split()).casefold()

    return bool(key(typed)) and key(typed) == key(expected)
