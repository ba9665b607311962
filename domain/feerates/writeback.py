"""The write-back of one approval to the counter (回写柜台), one per flow request (the system
node's visit): exported (the file, its hash, what it was made from), archived, then imported or
failed as the counter reports. The request id is the idempotency key: its aggregate id derives
from it, so a second export of the same approval collides in the store."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import ConflictError
from domain.shared.ids import natural_id
from domain.shared.text import require_text

STATUSES = ("exported", "imported", "failed")
MAX_MESSAGE = 2000


def writeback_id(request_id: str) -> UUID:
    return natural_id("feerate_writeback", request_id)


def file_name(request_id: str, suffix: str) -> str:
    """feerate_<instance>_<task>.<suffix>: the request id is "<instance id>:<task id>"."""
    return f"feerate_{request_id.replace(':', '_')}.{suffix}"


class ImportFileConflictError(ConflictError):
    """A different file under a name already written: never overwritten (a replay or retry must
    produce the same file for the same approval)."""
    code = "import_file_conflict"


class ResultConflictError(ConflictError):
    code = "writeback_result_conflict"


class Writeback(LedgerAggregate):
    class Exported(LedgerAggregate.Created):
        request_id: str
        instance_id: UUID
        node: str
        counter: str
        layout: str
        file: str
        sha256: str
        records: int
        source: dict[str, Any]     # template key and version, exchange-rate table version: to render it again
        business_line: str | None

    @event(Exported)
    def __init__(self, request_id: str, instance_id: UUID, node: str, counter: str, layout: str, file: str,
                 sha256: str, records: int, source: dict[str, Any], business_line: str | None):
        self.business_line = business_line
        self.request_id, self.instance_id, self.node = request_id, instance_id, node
        self.counter, self.layout, self.file, self.sha256, self.records = counter, layout, file, sha256, records
        self.source = source
        self.status = "exported"
        self.message = ""
        self.document_id: UUID | None = None

    @classmethod
    def export(cls, *, request_id: str, instance_id: UUID, node: str, counter: str, layout: str, file: str,
               sha256: str, records: int, source: dict[str, Any], business_line: str | None) -> Writeback:
        return cls._create(cls.Exported, id=writeback_id(request_id), request_id=request_id,
                           instance_id=instance_id, node=node, counter=counter, layout=layout, file=file,
                           sha256=sha256, records=records, source=source, business_line=business_line)

    # -- archived with the instance -----------------------------------------------------------------
    class Archived(LedgerAggregate.Event):
        document_id: UUID

    def archived(self, document_id: UUID) -> None:
        if self.document_id is None:
            self._archived(document_id=document_id)

    @event(Archived)
    def _archived(self, document_id: UUID) -> None:
        self.document_id = document_id

    # -- the counter's answer -----------------------------------------------------------------------
    class Imported(LedgerAggregate.Event):
        message: str
        channel: str        # "feed:<result file>" or "api"

    class Failed(LedgerAggregate.Event):
        message: str
        channel: str

    def report(self, status: str, message: str, channel: str) -> bool:
        """Record the counter's result; False when it is already recorded (a re-delivered result).
        A different result for a file already imported or failed is refused: the counter imports a
        file once, and a repair is a new request with a new file."""
        message = require_text(message[:MAX_MESSAGE], "message", MAX_MESSAGE)
        if status not in ("imported", "failed"):
            raise ValueError(status)
        if self.status == status:
            return False
        if self.status != "exported":
            raise ResultConflictError(f"{self.file} was already reported {self.status}; a result of {status} "
                                      "cannot replace it", field="status")
        (self._imported if status == "imported" else self._failed)(message=message, channel=channel)
        return True

    @event(Imported)
    def _imported(self, message: str, channel: str) -> None:
        self.status, self.message = "imported", message

    @event(Failed)
    def _failed(self, message: str, channel: str) -> None:
        self.status, self.message = "failed", message
