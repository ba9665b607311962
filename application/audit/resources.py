"""Which resource (for field rules) and which data scope each aggregate type belongs to,
so that trails and past states are filtered exactly like the context's own reads.
Contexts register their aggregates here."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.access.business_line import BusinessLine
from domain.access.credentials import ApiToken, Session
from domain.access.department import Department
from domain.access.field_rule import FieldRule
from domain.access.operator import Operator
from domain.access.role import Role


@dataclass(frozen=True)
class AuditedResource:
    resource: str
    department_of: Callable[[Any], UUID | None] = lambda aggregate: None
    account_of: Callable[[Any], str | None] = lambda aggregate: None
    admin_only: bool = False  # catalogue records: visible to whoever may audit, not scope-bound


RESOURCES: dict[type, AuditedResource] = {
    Department: AuditedResource("access.department", department_of=lambda a: a.id),
    Operator: AuditedResource("access.operator", department_of=lambda a: a.department_id),
    Role: AuditedResource("access.role", admin_only=True),
    BusinessLine: AuditedResource("access.business_line", admin_only=True),
    FieldRule: AuditedResource("access.field_rule", admin_only=True),
    Session: AuditedResource("access.session", admin_only=True),
    ApiToken: AuditedResource("access.api_token", admin_only=True),
}


def resource_of(aggregate: Any) -> AuditedResource | None:
    return RESOURCES.get(type(aggregate))
