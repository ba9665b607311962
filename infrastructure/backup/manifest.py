"""The manifest of a backup: what it holds, from which store position, the checksum of every file,
and fingerprints of the keys the data depends on (never the keys); authenticated by an HMAC under
a key derived from the audit chain key, so the checksums cannot be rewritten with the files."""
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

FORMAT_VERSION = 2  # 2: the manifest carries a MAC (older backups are refused: nothing vouches for them)
MANIFEST = "manifest.json"
# A fingerprint is a slow salted hash: a backup's reader learns whether a key they hold is the
# right one, and guessing a key from it costs this many HMACs per guess.
FINGERPRINT_ITERATIONS = 200_000
CHUNK = 1 << 20

Progress = Callable[[str, int, int], None]  # (stage, done, total)
MAC_LABEL = b"ledgerflow backup manifest v1"


def manifest_key(chain_key: bytes) -> bytes:
    """The manifest's own key: its MAC can never stand in for a chain hash or a checkpoint's."""
    return hmac.new(chain_key, MAC_LABEL, hashlib.sha256).digest()


def inside(name: object) -> str:
    """``name`` when it is a relative path that stays inside the backup directory; else refused
    (a manifest must not make a restore read /etc/passwd or ../other-backup)."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise BackupError(f"the manifest names a file {name!r} that is not a path inside the backup")
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts) or Path(name).is_absolute():
        raise BackupError(f"the manifest names a file {name!r} outside the backup directory")
    return name


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
    mac: str = ""  # HMAC-SHA256 under manifest_key(chain key) of every other field

    def _signed(self, key: bytes) -> str:
        content = {k: v for k, v in asdict(self).items() if k != "mac"}
        data = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def write(self, root: Path, key: bytes) -> None:
        """``key``: :func:`manifest_key` of the chain key."""
        self.mac = self._signed(key)
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
        if not isinstance(self.iterations, int) or not 1 <= self.iterations <= 10 * FINGERPRINT_ITERATIONS:
            # Checked before the MAC (which needs the right key): a forged count must not stall the restore.
            raise BackupError(f"the manifest's fingerprint iterations {self.iterations!r} are out of range")
        for name, expected in sorted(self.keys.items()):
            key = keys.get(name)
            if key is None:
                raise BackupError(f"the backup was made with {name} set; it is not set here")
            if not hmac.compare_digest(fingerprint(key, self.salt, self.iterations), expected):
                raise BackupError(f"the configured {name} is not the one the backup was made with "
                                  "(its fingerprint differs); restore with the original key")

    def check_mac(self, key: bytes) -> None:
        """Refuse a manifest changed after it was written (its checksums with it): only a holder
        of the chain key can write one a restore accepts."""
        if not isinstance(self.mac, str) or not hmac.compare_digest(self._signed(key).encode(), self.mac.encode()):
            raise BackupError("the manifest's MAC does not match: it was changed after the backup was made "
                              "(or made without this chain key)")

    def check_paths(self) -> None:
        """Every file the restore reads is inside the backup and listed with its checksum."""
        for name in self.files:
            inside(name)
        for table, entry in sorted(self.tables.items()):
            if not isinstance(entry, dict) or inside(entry.get("file")) not in self.files:
                raise BackupError(f"table {table}'s file is not among the backup's checksummed files")
        if self.anchors.get("included") and inside(self.anchors.get("file")) not in self.files:
            raise BackupError("the anchors file is not among the backup's checksummed files")

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
