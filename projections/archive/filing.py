"""Process manager for automatic archiving (自动归档): when a flow instance completes, every
document its form references (Attachment items ``{"document_id": ...}``) is filed under the
instance's customer / fund account, business type and instance, without anyone filing it.

It is a projection, so the runner tracks it exactly once: it keeps each running instance's
facts and latest form data (from the flow's own events, so the flows context is untouched) and,
on ``FlowInstance.Completed``, issues the archive's idempotent ``file_flow_attachments``
command. The command may run again if this projection's transaction is retried or the
projection is rebuilt from 0; filing is idempotent per (document, instance), so it has one
effect."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from domain.flows.instance import FlowInstance
from projections.framework import PostgresProjection, SqlWriter, handles, json_text

UUID_TEXT = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
Archiver = Callable[..., Any]


def _flow_event(name: str) -> type:
    """A FlowInstance event class. Its @event decorators make them when the class is created,
    out of a type checker's sight (until the flows context declares them as classes, as access,
    archive and forms do), so they are looked up by name: a renamed event fails at import."""
    event_class = getattr(FlowInstance, name, None)
    if not isinstance(event_class, type):
        raise TypeError(f"FlowInstance has no event class {name!r}")
    return event_class


STARTED, FORM_EDITED, COMPLETED = _flow_event("Started"), _flow_event("FormEdited"), _flow_event("Completed")


def attachment_ids(data: Any) -> Iterator[UUID]:
    """Every ``{"document_id": ...}`` reference anywhere in the form data (attachments may sit in
    sections and sub-table rows)."""
    if isinstance(data, dict):
        ref = data.get("document_id")
        if isinstance(ref, str) and UUID_TEXT.match(ref):
            yield UUID(ref)
        for value in data.values():
            if isinstance(value, (dict, list)):
                yield from attachment_ids(value)
    elif isinstance(data, list):
        for item in data:
            yield from attachment_ids(item)


class ArchiveFilingProcess(PostgresProjection):
    name = "archive.filing"
    tables = ("archive_flow_facts",)
    schema = (
        "CREATE TABLE IF NOT EXISTS archive_flow_facts (instance_id uuid PRIMARY KEY, business_type text NOT NULL,"
        " business_line text NOT NULL, fund_account text, department_id uuid, data jsonb NOT NULL,"
        " filed_at timestamptz)",
    )

    def __init__(self, archiver: Archiver | None = None):
        """``archiver``: the archive's file_flow_attachments bound to a system actor, given by the
        composition root (None only where the projection is listed, never run)."""
        super().__init__()
        self.archiver = archiver

    @handles(STARTED)
    def started(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("INSERT INTO archive_flow_facts VALUES (%s, %s, %s, %s, %s, %s::jsonb, NULL)"
                  " ON CONFLICT (instance_id) DO NOTHING",
                  (e.originator_id, e.business_type, e.business_line, e.fund_account, e.department_id,
                   json_text(e.data, str)))

    @handles(FORM_EDITED)
    def form_edited(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE archive_flow_facts SET data = %s::jsonb WHERE instance_id = %s",
                  (json_text(e.data, str), e.originator_id))

    @handles(COMPLETED)
    def completed(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("SELECT business_type, business_line, fund_account, department_id, data FROM archive_flow_facts"
                  " WHERE instance_id = %s", (e.originator_id,))
        facts = w.fetchone()
        if facts is None:
            return
        documents = list(dict.fromkeys(attachment_ids(facts["data"])))
        if documents:
            if self.archiver is None:
                raise RuntimeError("archive.filing has no archiver wired; it cannot file attachments")
            self.archiver(e.originator_id, documents, customer=facts["fund_account"],
                          fund_account=facts["fund_account"], business_type=facts["business_type"],
                          department_id=facts["department_id"], business_line=facts["business_line"],
                          correlation_id=e.correlation_id)
        w.execute("UPDATE archive_flow_facts SET filed_at = %s, data = '{}'::jsonb WHERE instance_id = %s",
                  (e.timestamp, e.originator_id))
