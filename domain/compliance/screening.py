"""A screening: who a flow's system node screened against which list versions, what hit, and the
compliance reviewer's decision on the hits (clear: a false positive, the flow goes on; confirm:
the person is on the list, the flow ends or routes as configured).

One screening per flow request (its id derives from the request id), so a retried hook finds the
screening it recorded and answers the same. What it keeps of a person is what compliance needs
to review the hit: the name, where on the form it was, and the ID number masked (the full number
stays in the form; PIPL art. 28)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import event

from domain.compliance.matching import DEFAULT_THRESHOLD, Hit, Subject, mask_id
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import ConflictError, PermissionDeniedError, RuleViolationError
from domain.shared.ids import natural_id
from domain.shared.text import require_text

Decision = Literal["clear", "confirm"]
Status = Literal["clear", "pending_review", "cleared", "confirmed"]
STATUSES: tuple[Status, ...] = ("clear", "pending_review", "cleared", "confirmed")


class AlreadyReviewedError(ConflictError):
    code = "already_reviewed"


class SegregationOfDutiesError(PermissionDeniedError):
    code = "segregation_of_duties"


@dataclass(frozen=True)
class ScreeningOrder:
    """What a flow asks to have screened, and where it comes from."""
    request_id: str                 # the flow's request (one node visit): one screening each
    instance_id: UUID | None
    node: str
    business_type: str
    business_line: str | None
    initiator: str
    subjects: list[Subject]
    lists: list[str]
    threshold: float = DEFAULT_THRESHOLD


def screening_id(request_id: str) -> UUID:
    return natural_id("screening", request_id)


class Screening(LedgerAggregate):
    class Performed(LedgerAggregate.Created):
        request_id: str
        instance_id: UUID | None
        node: str
        business_type: str
        business_line: str | None
        initiator: str
        subjects: list[dict[str, Any]]      # {"ref", "name", "id_number"} with the ID number masked
        lists: list[str]
        list_versions: dict[str, int]       # kind -> the version screened against
        threshold: float
        hits: list[dict[str, Any]]          # Hit.as_dict(): subject index, list, version, entry, score, matched_on

    @event(Performed)
    def __init__(self, request_id: str, instance_id: UUID | None, node: str, business_type: str,
                 business_line: str | None, initiator: str, subjects: list[dict[str, Any]], lists: list[str],
                 list_versions: dict[str, int], threshold: float, hits: list[dict[str, Any]]) -> None:
        self.request_id, self.instance_id, self.node = request_id, instance_id, node
        self.business_type, self.business_line, self.initiator = business_type, business_line, initiator
        self.subjects, self.lists, self.list_versions = subjects, lists, list_versions
        self.threshold, self.hits = threshold, hits
        self.status: Status = "pending_review" if hits else "clear"
        self.decision: dict[str, Any] | None = None

    @classmethod
    def perform(cls, order: ScreeningOrder, list_versions: dict[str, int], hits: list[Hit]) -> Screening:
        o = order
        return cls._create(
            cls.Performed, id=screening_id(o.request_id), request_id=o.request_id, instance_id=o.instance_id,
            node=require_text(o.node, "node", 64), business_type=o.business_type, business_line=o.business_line,
            initiator=o.initiator,
            subjects=[{"ref": s.ref, "name": s.name, "id_number": mask_id(s.id_number) if s.id_number else ""}
                      for s in o.subjects],
            lists=sorted(list_versions), list_versions=dict(sorted(list_versions.items())), threshold=o.threshold,
            hits=[h.as_dict() for h in hits])

    @property
    def hit(self) -> bool:
        return bool(self.hits)

    # -- the compliance review --------------------------------------------------------------------
    class Cleared(LedgerAggregate.Event):
        reason: str

    class Confirmed(LedgerAggregate.Event):
        reason: str

    def review(self, decision: Decision, reason: str, by: str, person: str | None = None) -> None:
        """Checks first: only hits are reviewed, once, with a reason, by someone other than the
        person who entered the data (制单/复核: maker and checker are two people)."""
        if self.status == "clear":
            raise RuleViolationError("this screening found no hit: there is nothing to review", field="decision")
        if self.decision is not None:
            raise AlreadyReviewedError(f"this screening was already reviewed ({self.status})")
        if self.initiator in (by, person):  # ``person``: who stands behind a token acting for them
            raise SegregationOfDutiesError("the initiator of the business may not review its screening")
        reason = require_text(reason.strip(), "reason", 1000)
        if not reason:
            raise RuleViolationError("a review needs a reason", field="reason")
        if decision == "clear":
            self._cleared(reason=reason)
        elif decision == "confirm":
            self._confirmed(reason=reason)
        else:
            raise RuleViolationError("decision: clear or confirm", field="decision")

    @event(Cleared)
    def _cleared(self, reason: str) -> None:
        self.status = "cleared"
        self.decision = {"decision": "clear", "reason": reason}

    @event(Confirmed)
    def _confirmed(self, reason: str) -> None:
        self.status = "confirmed"
        self.decision = {"decision": "confirm", "reason": reason}
