"""Field rules: hidden, masked or read-only fields, by role or department (pure logic)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from domain.privacy.personal import is_erased

EFFECTS = ("hidden", "masked", "read_only")

# The fields each resource lets rules target: optional text fields only, so hiding or masking
# them can never break a record's shape. Contexts register their resources here.
RULE_FIELDS: dict[str, frozenset[str]] = {
    "access.operator": frozenset({"display_name", "phone", "email"}),
    "access.department": frozenset({"name"}),
    "forms.customer": frozenset({"name", "id_number", "phone", "bank_account", "address"}),
    "leads.lead": frozenset({"phone", "name"}),
    # Form data of flow instances: rules match these names at any depth (e.g. settlement.bank_account).
    "flows.instance": frozenset({"bank_account", "bank_card", "id_number", "phone", "contact_phone", "uscc",
                                 "swift_code", "name", "legal_representative"}),
    # Archived documents: the customer view, business view, detail and export manifests.
    "archive.document": frozenset({"customer", "fund_account", "filename", "title", "note"}),
}
MASKS = ("bank_card", "id_card", "phone", "name", "email", "all")
# Resources whose records carry a business type's form data: besides the registered names, rules
# may target any path of a published form (a section such as `commercial`, a field such as
# `settlement.bank_account`, a sub-table column such as `rates.rebate`), checked at definition.
FORM_DATA_RESOURCES = frozenset({"flows.instance"})


def mask_value(value: Any, style: str) -> Any:
    """Mask a value so its owner can recognise it but nobody can use it.

    bank_card 6222021234567891234 -> 6222****1234; id_card keeps 4 + 4; phone keeps 3 + 4;
    name keeps the first character; email keeps the first character of the local part.
    """
    if value is None or is_erased(value):  # the erasure marker hides nothing (ADR 0028)
        return value
    if not isinstance(value, str):
        return "****"
    # Show at most half of the characters, never the whole value.
    if style == "bank_card" or style == "id_card":
        return value[:4] + "****" + value[-4:] if len(value) >= 16 else "****"
    if style == "phone":
        return value[:3] + "****" + value[-4:] if len(value) >= 11 else "****"
    if style == "name":
        return value[:1] + "*" * max(len(value) - 1, 1) if len(value) > 1 else "*"
    if style == "email":
        local, _, domain = value.partition("@")
        return (local[:1] + "***@" + domain) if domain else "****"
    return "****"


@dataclass(frozen=True)
class FieldRuleView:
    """A field rule as the policy evaluates it (from the read model)."""

    resource: str
    field: str
    effect: str
    mask: str | None
    applies_to_roles: frozenset[str]
    applies_to_departments: frozenset[str]
    exempt_roles: frozenset[str]
    exempt_departments: frozenset[str]

    def applies(self, roles: Iterable[str], departments: Iterable[str]) -> bool:
        roles, departments = set(roles), set(departments)
        if roles & self.exempt_roles or departments & self.exempt_departments:
            return False
        if not self.applies_to_roles and not self.applies_to_departments:
            return True  # everyone not exempt
        return bool(roles & self.applies_to_roles or departments & self.applies_to_departments)


def apply_rules(record: dict[str, Any], rules: Iterable[FieldRuleView]) -> dict[str, Any]:
    """Hidden fields are removed, masked fields masked: on top-level keys, dotted paths, and the
    same names inside nested objects (an event's ``profile``, a trail's ``data``), so a value
    hidden in a record stays hidden wherever the record is embedded."""
    rules = list(rules)
    if not rules:
        return record
    out: dict[str, Any] = {k: (apply_rules(v, rules) if isinstance(v, dict) else
                               [apply_rules(i, rules) if isinstance(i, dict) else i for i in v]
                               if isinstance(v, list) else v)
                           for k, v in record.items()}
    for rule in rules:
        for key in (f"old_{rule.field}",):  # events keep prior values as old_<field>
            if key in out:
                out = apply_rules(out, [FieldRuleView(rule.resource, key, rule.effect, rule.mask, frozenset(),
                                                      frozenset(), frozenset(), frozenset())])
        head, _, rest = rule.field.partition(".")
        if head not in out:
            continue
        if rest:
            inner = [FieldRuleView(rule.resource, rest, rule.effect, rule.mask, frozenset(), frozenset(), frozenset(),
                                   frozenset())]
            if isinstance(out[head], dict):
                out[head] = apply_rules(out[head], inner)
            elif isinstance(out[head], list):  # a sub-table: the rule holds for the column of every row
                out[head] = [apply_rules(row, inner) if isinstance(row, dict) else row for row in out[head]]
            continue
        if rule.effect == "hidden":
            del out[head]
        elif rule.effect == "masked":
            out[head] = mask_value(out[head], rule.mask or "all")
    return out
