"""The manifest of a backup: what it holds, from which store position, the checksum of every file,
and fingerprints of the keys the data depends on (never the keys)."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from infrastructure.backup import BackupError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# A fingerprint is a slow salted hash: a backup's reader learns whether a key they hold is the
# right one, and guessing a key from it costs this many HMACs per guess.
FINGERPRINT_ITERATIONS = 200_000
CHUNK = 1 << 20

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def fingerprint(key: bytes, salt: str, iterations: int = FINGERPRINT_ITERATIONS) -> str:
    return hashlib.pbkdf2_hmac("sha256", key, bytes.fromhex(salt), iterations).hex()


def new_salt() -> str:
    return secrets.token_hex(16)


@dataclass
class Manifest:
    created_at: str
    head_position: int
    settings: dict[str, Any]
    tables: dict[str, dict[str, Any]]  # name -> {file, rows, columns}
    excluded_tables: list[str]
    keys: dict[str, str]  # setting name -> fingerprint
    salt: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative path -> {sha256, bytes}
    blobs: dict[str, Any] = field(default_factory=dict)
    anchors: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    iterations: int = FINGERPRINT_ITERATIONS

    def write(self, root: Path) -> None:
        path = root / MANIFEST
        with path.open("w", encoding="utf-8") as out:
            json.dump(asdict(self), out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())

    @classmethod
    def read(cls, root: Path) -> Manifest:
        try:
            data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BackupError(f"{root} holds no {MANIFEST}: not a Ledgerflow backup") from None
        except (ValueError, UnicodeError) as exc:
            raise BackupError(f"{root / MANIFEST} is unreadable ({exc}): the backup is corrupted") from None
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            found = data.get("format_version") if isinstance(data, dict) else None
            raise BackupError(f"backup format {found!r} is not the one this release reads ({FORMAT_VERSION})")
        try:
            return cls(**data)
        except TypeError as exc:
            raise BackupError(f"{root / MANIFEST} does not have the manifest's fields ({exc})") from None

    def check_keys(self, keys: Mapping[str, bytes | None]) -> None:
        """Refuse when a key the backup was made under is not the one configured now: the chain
        would not verify, or encrypted personal data would not decrypt."""
        for name, expected in sorted(self.keys.items()):
            key = keys.get(name)
            if key is None:
                raise BackupError(f"the backup was made with {name} set; it is not set here")
            if not hmac.compare_digest(fingerprint(key, self.salt, self.iterations), expected):
                raise BackupError(f"the configured {name} is not the one the backup was made with "
                                  "(its fingerprint differs); restore with the original key")

    def verify_files(self, root: Path, progress: Progress | None = None) -> None:
        """Re-hash every file the manifest lists; refuse on the first one missing or changed."""
        total = sum(f["bytes"] for f in self.files.values())
        done = 0
        for name, expected in sorted(self.files.items()):
            path = root / name
            if not path.is_file():
                raise BackupError(f"{name} is missing from the backup")
            digest = hashlib.sha256()
            with path.open("rb") as stream:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress("verifying", done, total)
            if digest.hexdigest() != expected["sha256"]:
                raise BackupError(f"{name} does not match its checksum in the manifest: the backup is corrupted")


class HashingWriter:
    """A binary file that hashes and counts what is written to it (for the manifest)."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.digest = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.bytes += len(data)
        return self.stream.write(data)

    def flush(self) -> None:
        self.stream.flush()

    def entry(self) -> dict[str, Any]:
        return {"sha256": self.digest.hexdigest(), "bytes": self.bytes}
