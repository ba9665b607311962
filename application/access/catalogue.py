"""The catalogue: roles and their permissions, business lines, field rules."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from application.shared.base import CommandResult, Loader, command
from domain.access.business_line import BusinessLine
from domain.access.department import Department
from domain.access.field_rule import FieldRule
from domain.access.role import Role
from domain.shared.errors import NotFoundError
from domain.shared.ids import natural_id


class Catalogue:
    # From the host (LedgerApplication, Departments):
    load: Loader
    exists: Callable[[UUID], bool]
    save_one: Callable[[Any], CommandResult]
    create_unique: Callable[[Any, str], CommandResult]
    department: Callable[..., Department]

    def role(self, key: str) -> Role:
        return self.load(natural_id("role", key), Role)

    def business_line(self, code: str) -> BusinessLine:
        return self.load(natural_id("business_line", code), BusinessLine)

    def require_known(self, kind: str, keys: list[str], field: str) -> None:
        """Every key names a catalogue entry (``role``, ``business_line``) that exists."""
        missing = [k for k in keys if not self.exists(natural_id(kind, k))]
        if missing:
            raise NotFoundError(f"unknown {kind.replace('_', ' ')}s: {', '.join(missing)}", field=field)

    @command
    def create_role(self, key: str, name: str, permissions: list[str],
                    owner_department_id: UUID | None = None) -> CommandResult:
        if owner_department_id is not None:
            self.department(owner_department_id, "owner_department_id")
        return self.create_unique(Role.create(key, name, permissions, owner_department_id), f"role {key!r}")

    @command
    def set_role_permissions(self, key: str, permissions: list[str], expected_version: int | None) -> CommandResult:
        role = self.role(key)
        if expected_version is not None:
            role = self.load(role.id, Role, expected_version=expected_version)
        role.set_permissions(permissions)
        return self.save_one(role)

    @command
    def create_business_line(self, code: str, name: str) -> CommandResult:
        return self.create_unique(BusinessLine.create(code, name), f"business line {code!r}")

    @command
    def define_field_rule(self, resource: str, field: str, effect: str, mask: str | None,
                          applies_to_roles: list[str], applies_to_departments: list[str],
                          exempt_roles: list[str], exempt_departments: list[str]) -> CommandResult:
        self.require_known("role", applies_to_roles + exempt_roles, "roles")
        for department_id in applies_to_departments + exempt_departments:
            self.department(UUID(department_id), "departments")
        rule = FieldRule.define(resource, field, effect, mask, applies_to_roles, applies_to_departments,
                                exempt_roles, exempt_departments)
        return self.save_one(rule)

    @command
    def withdraw_field_rule(self, rule_id: UUID) -> CommandResult:
        rule = self.load(rule_id, FieldRule)
        rule.withdraw()
        return self.save_one(rule)
