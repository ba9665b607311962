"""Agreement templates: create, save drafts, publish checked versions (协议模板管理, 004 §7.2).

Publishing checks every body: Jinja syntax, and every variable it reads against the business type's
latest published form (a typo would otherwise surface only when a flow reaches its generation node,
as a refused generation)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from application.agreements.ports import Forms
from application.agreements.templating import referenced_paths, reserved_problem, syntax_problem
from application.shared.base import CommandResult, Loader, command
from domain.agreements.template import AgreementTemplate, check_sections, template_id
from domain.forms.paths import schema_has_path
from domain.shared.errors import InvalidInputError, NotFoundError


class Templates:
    forms: Forms
    # from the host (LedgerApplication)
    load: Loader
    create_unique: Callable[..., CommandResult]
    save_one: Callable[..., CommandResult]

    def template(self, key: str, language: str, expected_version: int | None = None) -> AgreementTemplate:
        return self.load(template_id(key, language), AgreementTemplate, expected_version=expected_version,
                         what=f"agreement template {key!r} ({language})")

    @command
    def create_template(self, key: str, language: str, name: str, business_type: str) -> CommandResult:
        try:
            line = self.forms.current_business_type(business_type).business_line
        except NotFoundError:
            raise NotFoundError(f"business type {business_type!r} does not exist", field="business_type") from None
        return self.create_unique(AgreementTemplate.create(key, language, name, business_type, line),
                                  f"agreement template {key!r} ({language})")

    @command
    def save_template_draft(self, key: str, language: str, title: str, sections: list[dict[str, str]],
                            expected_version: int | None) -> CommandResult:
        check_sections(sections)
        problems = _syntax_problems(sections)
        if problems:
            raise InvalidInputError(f"{len(problems)} problem(s) in the section bodies", problems,
                                    code="invalid_agreement_template")
        template = self.template(key, language, expected_version)
        template.save_draft(title, sections)
        return self.save_one(template)

    @command
    def publish_template(self, key: str, language: str, expected_version: int | None) -> tuple[CommandResult, int]:
        template = self.template(key, language, expected_version)
        if template.draft is not None:
            sections = template.draft["sections"]
            problems = _syntax_problems(sections) or self._variable_problems(template, sections)
            if problems:
                raise InvalidInputError(f"{len(problems)} problem(s) in the template; nothing was published",
                                        problems, code="invalid_agreement_template")
        number = template.publish()
        return self.save_one(template), number

    def _variable_problems(self, template: AgreementTemplate, sections: list[dict[str, str]]) -> list[dict[str, str]]:
        try:
            business_type = self.forms.current_business_type(template.business_type)
        except NotFoundError:
            return []
        if not business_type.versions:
            return []   # nothing to check against yet (the form is published first, in practice)
        schemas: list[dict[str, Any]] = list(business_type.versions[-1]["forms"].values())
        problems = []
        for i, section in enumerate(sections):
            for path in sorted(referenced_paths(section["body"])):
                reserved = reserved_problem(path)
                if reserved:
                    problems.append({"path": f"sections.{i}.body", "message": reserved})
                elif not path.startswith("agreement.") and not any(schema_has_path(s, path) for s in schemas):
                    problems.append({"path": f"sections.{i}.body",
                                     "message": f"section {section['number']}: the form of {template.business_type!r} "
                                                f"has no field {path!r}"})
        return problems


def _syntax_problems(sections: list[dict[str, str]]) -> list[dict[str, str]]:
    out = []
    for i, section in enumerate(sections):
        problem = syntax_problem(section["body"])
        if problem:
            out.append({"path": f"sections.{i}.body", "message": f"section {section['number']}: {problem}"})
    return out

