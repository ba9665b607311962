"""The signatures context's Application (ADR 0013): signing requests, their public links, the
seal and its verification, one flat capability class each. The archive (another context's public
interface), the sealer, the clock, the read model and the flow's callback are given here, once,
by the composition root."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from application.shared.base import LedgerApplication
from application.signatures.links import PublicSigning
from application.signatures.ports import ArchiveDocuments, Clock, NoReads, OnComplete, SigningReads
from application.signatures.requests import SigningRequests
from application.signatures.sealing import Sealing
from domain.signatures.seal import SealPort


class SignaturesApplication(SigningRequests, PublicSigning, Sealing, LedgerApplication):
    name = "signatures"

    def __init__(self, store: Any, *, archive: ArchiveDocuments, sealer: SealPort, link_hours: int = 72,
                 public_base_url: str = "http://localhost:8000", seal_location: str = "",
                 clock: Clock | None = None, reads: SigningReads | None = None,
                 on_complete: OnComplete | None = None):
        super().__init__(store)
        self.archive, self.sealer = archive, sealer
        self.link_hours, self.public_base_url, self.seal_location = link_hours, public_base_url, seal_location
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.reads = reads if reads is not None else NoReads()
        # The flow's complete_system_task (the lead wires it); None: requests made by staff only.
        self.on_complete = on_complete
