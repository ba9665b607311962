"""The agreements context's Application (ADR 0013 shape, ADR 0021): templates, generation from a
flow instance's form, section reviews. The forms context (form schemas for publish checks), the
archive (where the PDFs are filed), the PDF renderer and the clock are given at composition."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from application.agreements.generation import Generating
from application.agreements.pdf import PdfRenderer
from application.agreements.ports import Archive, Forms
from application.agreements.reviews import Reviews
from application.agreements.templates import Templates
from application.shared.base import LedgerApplication
from infrastructure.eventstore.store import EventStore


class AgreementsApplication(Templates, Generating, Reviews, LedgerApplication):
    name = "agreements"

    def __init__(self, store: EventStore, *, forms: Forms, archive: Archive, renderer: PdfRenderer | None = None,
                 clock: Callable[[], datetime] | None = None):
        super().__init__(store)
        self.forms = forms
        self.archive = archive
        self.renderer = renderer or PdfRenderer()
        self.clock = clock or (lambda: datetime.now(timezone.utc))
