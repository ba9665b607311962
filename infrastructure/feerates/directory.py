"""The embedded counter adapter: a directory drop. The import file appears atomically in
``<counter dir>/outbox/<counter>/`` (written to a dot-file, fsynced, hard-linked to its name — a
link never replaces an existing file — and the directory fsynced); the back office's import job
(or an operator) picks it up from there. Beside it, ``sent/<counter>/<name>.sha256`` remembers
what was handed over, so putting the same file again is a no-op even after the counter took the
file away, and a different file under that name is refused. SFTP and HTTP adapters are later work
(docs/feerates.md): they implement the same ``put``."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from pathlib import Path

from domain.feerates.writeback import ImportFileConflictError
from infrastructure.archive.blobs import _fsync_dir

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


def write_once(path: Path, content: bytes) -> bool:
    """Create ``path`` with ``content`` atomically and durably; False if it already existed."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("xb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    _fsync_dir(path.parent)
    return True


class DirectoryDropCounter:
    def __init__(self, root: Path, counter: str):
        self.outbox = root / "outbox" / counter
        self.sent = root / "sent" / counter
        self.outbox.mkdir(parents=True, exist_ok=True)
        self.sent.mkdir(parents=True, exist_ok=True)

    def put(self, name: str, content: bytes) -> None:
        if not NAME.fullmatch(name):
            raise ValueError(f"unsafe import file name {name!r}")
        digest = hashlib.sha256(content).hexdigest()
        ledger = self.sent / f"{name}.sha256"
        if ledger.exists():
            self._same(name, ledger.read_text().strip(), digest)
            return  # handed over already (the counter may have taken it away since)
        target = self.outbox / name
        if not write_once(target, content):
            # Written before the ledger was (a crash in between): only the same bytes may stand.
            with contextlib.suppress(FileNotFoundError):
                self._same(name, hashlib.sha256(target.read_bytes()).hexdigest(), digest)
        write_once(ledger, digest.encode())

    @staticmethod
    def _same(name: str, existing: str, digest: str) -> None:
        if existing != digest:
            raise ImportFileConflictError(f"{name} was already written with other content (sha256 {existing}); "
                                          f"refusing to replace it with {digest}", field="file")
