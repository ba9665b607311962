"""Field rule: a field of a resource hidden, masked or read-only for some operators."""
from __future__ import annotations

import re

from eventsourcing.domain import event

from domain.access.masking import EFFECTS, FORM_DATA_RESOURCES, MASKS, RULE_FIELDS
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError

RESOURCE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class FieldRule(LedgerAggregate):
    class Defined(LedgerAggregate.Created):
        resource: str
        field: str
        effect: str
        mask: str | None
        applies_to_roles: list[str]
        applies_to_departments: list[str]
        exempt_roles: list[str]
        exempt_departments: list[str]

    @event(Defined)
    def __init__(self, resource: str, field: str, effect: str, mask: str | None, applies_to_roles: list[str],
                 applies_to_departments: list[str], exempt_roles: list[str], exempt_departments: list[str]):
        self.resource, self.field, self.effect, self.mask = resource, field, effect, mask
        self.applies_to_roles, self.applies_to_departments = applies_to_roles, applies_to_departments
        self.exempt_roles, self.exempt_departments = exempt_roles, exempt_departments
        self.active = True

    @classmethod
    def define(cls, resource: str, field: str, effect: str, mask: str | None, applies_to_roles: list[str],
               applies_to_departments: list[str], exempt_roles: list[str],
               exempt_departments: list[str]) -> FieldRule:
        if not RESOURCE.fullmatch(resource) or resource not in RULE_FIELDS:
            raise RuleViolationError(f"unknown resource {resource!r}; one of {', '.join(sorted(RULE_FIELDS))}",
                                     field="resource")
        form_path = resource in FORM_DATA_RESOURCES and FIELD.fullmatch(field) and len(field) <= 128
        if not FIELD.fullmatch(field) or (field not in RULE_FIELDS[resource] and not form_path):
            raise RuleViolationError(f"rules on {resource} may target: {', '.join(sorted(RULE_FIELDS[resource]))}",
                                     field="field")
        if effect not in EFFECTS:
            raise RuleViolationError(f"effect must be one of {', '.join(EFFECTS)}", field="effect")
        if effect == "masked" and mask not in MASKS:
            raise RuleViolationError(f"a masked field needs mask one of {', '.join(MASKS)}", field="mask")
        return cls(resource=resource, field=field, effect=effect, mask=mask if effect == "masked" else None,
                   applies_to_roles=sorted(set(applies_to_roles)),
                   applies_to_departments=sorted(set(applies_to_departments)),
                   exempt_roles=sorted(set(exempt_roles)), exempt_departments=sorted(set(exempt_departments)))

    def withdraw(self) -> None:
        if not self.active:
            raise RuleViolationError("field rule already withdrawn")
        self._withdrawn()

    class Withdrawn(LedgerAggregate.Event):
        pass

    @event(Withdrawn)
    def _withdrawn(self) -> None:
        self.active = False
