"""Agreement template (协议模板, 004 §7.2): per business type and language, numbered sections whose
bodies use the form's fields as variables. Designers edit a draft; publishing freezes it as version N
(the application checks the bodies first), and every generated agreement names the version it used."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.agreements.sections import SECTION_NUMBER, sort_key
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import InvalidInputError, NotFoundError, RuleViolationError
from domain.shared.ids import check_key, natural_id
from domain.shared.text import require_text, text_problem

LANGUAGES = ("zh", "en")
MAX_SECTIONS = 100
MAX_TITLE = 200
MAX_BODY = 20_000


def template_id(key: str, language: str) -> UUID:
    return natural_id("agreement_template", f"{key}:{language}")


def check_sections(sections: Any) -> list[dict[str, str]]:
    """[{number, title, body}] with unique section numbers, kept in 004 order (1.x before 2.x, 1.2
    before 1.10); every problem at once."""
    if not isinstance(sections, list) or not 0 < len(sections) <= MAX_SECTIONS:
        raise InvalidInputError("sections: 1 to 100 sections", [{"path": "sections", "message": "1 to 100"}],
                                code="invalid_agreement_template")
    problems: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, section in enumerate(sections):
        where = f"sections.{i}"
        if not isinstance(section, dict) or set(section) != {"number", "title", "body"} or not all(
                isinstance(v, str) for v in section.values()):
            problems.append({"path": where, "message": "each section is {number, title, body} (text)"})
            continue
        if not SECTION_NUMBER.fullmatch(section["number"]):
            problems.append({"path": f"{where}.number", "message": "a section number 1.1 to 5.99 (004 §5.2)"})
        elif section["number"] in seen:
            problems.append({"path": f"{where}.number", "message": f"section {section['number']} appears twice"})
        seen.add(section["number"])
        if not 0 < len(section["title"].strip()) <= MAX_TITLE:
            problems.append({"path": f"{where}.title", "message": f"1 to {MAX_TITLE} characters"})
        if len(section["body"]) > MAX_BODY:
            problems.append({"path": f"{where}.body", "message": f"at most {MAX_BODY} characters"})
        for name in ("title", "body"):
            problem = text_problem(section[name])
            if problem:
                problems.append({"path": f"{where}.{name}", "message": problem})
    if problems:
        raise InvalidInputError(f"{len(problems)} problem(s) in the sections", problems,
                                code="invalid_agreement_template")
    return sorted(({"number": s["number"], "title": s["title"].strip(), "body": s["body"]} for s in sections),
                  key=lambda s: sort_key(s["number"]))


class AgreementTemplate(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        key: str
        language: str
        name: str
        business_type: str
        business_line: str

    @event(Created)
    def __init__(self, key: str, language: str, name: str, business_type: str, business_line: str) -> None:
        self.key, self.language, self.name = key, language, name
        self.business_type = business_type
        self.business_line: str = business_line
        self.draft: dict[str, Any] | None = None          # {title, sections}
        self.versions: list[dict[str, Any]] = []           # [{number, title, sections}]

    @classmethod
    def create(cls, key: str, language: str, name: str, business_type: str, business_line: str
               ) -> AgreementTemplate:
        check_key(key)
        if language not in LANGUAGES:
            raise RuleViolationError(f"language must be one of {', '.join(LANGUAGES)}", field="language")
        name = require_text(name.strip(), "name")
        if not name:
            raise RuleViolationError("name must not be empty", field="name")
        return cls._create(cls.Created, id=template_id(key, language), key=key, language=language, name=name,
                           business_type=business_type, business_line=business_line)

    def save_draft(self, title: str, sections: list[dict[str, str]]) -> None:
        title = require_text(title.strip(), "title")
        if not title:
            raise RuleViolationError("title must not be empty", field="title")
        checked = check_sections(sections)
        if {"title": title, "sections": checked} != self.draft:
            self._draft_saved(title=title, sections=checked)

    class DraftSaved(LedgerAggregate.Event):
        title: str
        sections: list[dict[str, str]]

    @event(DraftSaved)
    def _draft_saved(self, title: str, sections: list[dict[str, str]]) -> None:
        self.draft = {"title": title, "sections": sections}

    def publish(self) -> int:
        """Freeze the draft (its bodies already checked by the application) as the next version."""
        if self.draft is None:
            raise RuleViolationError("there is no draft to publish")
        if self.versions and {k: self.versions[-1][k] for k in ("title", "sections")} == self.draft:
            raise RuleViolationError("the draft is unchanged since the last published version")
        number = len(self.versions) + 1
        self._published(number=number, title=self.draft["title"], sections=self.draft["sections"])
        return number

    class Published(LedgerAggregate.Event):
        number: int
        title: str
        sections: list[dict[str, str]]

    @event(Published)
    def _published(self, number: int, title: str, sections: list[dict[str, str]]) -> None:
        self.versions = [*self.versions, {"number": number, "title": title, "sections": sections}]

    def published_version(self, number: int | None = None) -> dict[str, Any]:
        """Version ``number``, or the latest when None."""
        if not self.versions:
            raise RuleViolationError(f"agreement template {self.key!r} ({self.language}) has no published version",
                                     field="template")
        number = len(self.versions) if number is None else number
        if not 1 <= number <= len(self.versions):
            raise NotFoundError(f"agreement template {self.key!r} has no version {number}", field="version")
        return self.versions[number - 1]
