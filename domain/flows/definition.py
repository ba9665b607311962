"""Flow definition: the versioned graph a business type runs through. Designers edit a draft;
publishing freezes it as version N (checked first), and instances pin their version."""
from __future__ import annotations

import re
from typing import Any

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import NotFoundError, RuleViolationError
from domain.shared.ids import KEY, check_key, natural_id

EMPTY_ASSIGNEE_RULES = ("skip", "to_admin", "block")
DEDUPLICATION = ("none", "approve_all", "approve_consecutive")
# 四眼原则: whether an administrator's override (jump, form edit, reassign, terminate, department
# move) takes effect at once or waits for a second administrator's approval.
OVERRIDE_APPROVAL = ("none", "second_administrator")


MAX_SUMMARY_FIELDS = 5
MAX_REASON_CODES = 100
REASON_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
SUMMARY_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,4}")


class FlowDefinition(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        key: str
        name: str
        business_type: str
        business_line: str
        description: str

    @event(Created)
    def __init__(self, key: str, name: str, business_type: str, business_line: str, description: str):
        self.key, self.name, self.business_type = key, name, business_type
        self.business_line: str = business_line   # always one: a definition belongs to a business line
        self.description = description
        self.draft: dict[str, Any] | None = None
        self.settings: dict[str, Any] = {"deduplication": "none", "empty_assignee": "to_admin"}
        self.versions: list[dict[str, Any]] = []

    @classmethod
    def create(cls, key: str, name: str, business_type: str, business_line: str, description: str
               ) -> FlowDefinition:
        return cls._create(cls.Created, id=natural_id("flow_definition", check_key(key)), key=key, name=name.strip(),
                           business_type=business_type, business_line=business_line, description=description)

    def save_draft(self, graph: dict[str, Any], settings: dict[str, Any]) -> None:
        if settings.get("deduplication") not in DEDUPLICATION:
            raise RuleViolationError(f"deduplication must be one of {', '.join(DEDUPLICATION)}",
                                     field="settings.deduplication")
        if settings.get("empty_assignee") not in EMPTY_ASSIGNEE_RULES:
            raise RuleViolationError(f"empty_assignee must be one of {', '.join(EMPTY_ASSIGNEE_RULES)}",
                                     field="settings.empty_assignee")
        if settings.get("override_approval", "none") not in OVERRIDE_APPROVAL:
            raise RuleViolationError(f"override_approval must be one of {', '.join(OVERRIDE_APPROVAL)}",
                                     field="settings.override_approval")
        unknown = sorted(set(settings) - {"deduplication", "empty_assignee", "chain_to", "summary_fields",
                                         "reason_codes", "override_approval"})
        if unknown:
            raise RuleViolationError(f"unknown settings: {', '.join(unknown)}", field="settings")
        summary = settings.get("summary_fields", [])
        # OA 摘要: up to 5 form paths shown on todo and board rows (checked against the form at publish).
        if (not isinstance(summary, list) or len(summary) > MAX_SUMMARY_FIELDS
                or not all(isinstance(p, str) and SUMMARY_PATH.fullmatch(p) for p in summary)):
            raise RuleViolationError(f"summary_fields: at most {MAX_SUMMARY_FIELDS} form paths such as "
                                     "basic.tenant_name_cn", field="settings.summary_fields")
        _check_reason_codes(settings.get("reason_codes", []))
        chain = settings.get("chain_to")
        if chain is not None and (not KEY.fullmatch(chain) or chain == self.key):
            raise RuleViolationError("chain_to names another flow's key (流程接龙)", field="settings.chain_to")
        if (graph, settings) != (self.draft, self.settings):
            self._draft_saved(graph=graph, settings=settings)

    class DraftSaved(LedgerAggregate.Event):
        graph: dict[str, Any]
        settings: dict[str, Any]

    @event(DraftSaved)
    def _draft_saved(self, graph: dict[str, Any], settings: dict[str, Any]) -> None:
        self.draft, self.settings = graph, settings

    def publish(self) -> int:
        """Freeze the draft (already checked by the application) as the next version."""
        if self.draft is None:
            raise RuleViolationError("there is no draft to publish")
        if self.versions and (self.versions[-1]["graph"], self.versions[-1]["settings"]) == (self.draft,
                                                                                             self.settings):
            raise RuleViolationError("the draft is unchanged since the last published version")
        number = len(self.versions) + 1
        self._published(number=number, graph=self.draft, settings=dict(self.settings))
        return number

    class Published(LedgerAggregate.Event):
        number: int
        graph: dict[str, Any]
        settings: dict[str, Any]

    @event(Published)
    def _published(self, number: int, graph: dict[str, Any], settings: dict[str, Any]) -> None:
        self.versions = [*self.versions, {"number": number, "graph": graph, "settings": settings}]

    def published_version(self, number: int) -> dict[str, Any]:
        if not 1 <= number <= len(self.versions):
            raise NotFoundError(f"flow {self.key} has no version {number}", field="version")
        return self.versions[number - 1]


def _check_reason_codes(codes: Any) -> None:
    """reason_codes: the business type's catalogue of reasons for rejections and returns,
    [{code, label, counted}] ("驳回计入考核": counted marks a rejection that counts for assessment)."""
    where = "settings.reason_codes"
    if not isinstance(codes, list) or len(codes) > MAX_REASON_CODES:
        raise RuleViolationError(f"reason_codes: a list of at most {MAX_REASON_CODES} {{code, label, counted}}",
                                 field=where)
    seen: set[str] = set()
    for i, entry in enumerate(codes):
        if (not isinstance(entry, dict) or set(entry) != {"code", "label", "counted"}
                or not isinstance(entry["code"], str) or not REASON_CODE.fullmatch(entry["code"])
                or not isinstance(entry["label"], str) or not 0 < len(entry["label"].strip()) <= 100
                or not isinstance(entry["counted"], bool)):
            raise RuleViolationError("reason_codes: each entry is {code (1-32 of A-Z a-z 0-9 _ . -), label "
                                     "(1-100 characters), counted (true/false)}", field=f"{where}[{i}]")
        if entry["code"] in seen:
            raise RuleViolationError(f"reason_codes: code {entry['code']!r} appears twice", field=f"{where}[{i}]")
        seen.add(entry["code"])
