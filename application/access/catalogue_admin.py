"""Roles, business lines and field rules."""
from __future__ import annotations

from uuid import UUID

from application.access.operators import OperatorCommands
from application.shared.base import CommandResult, command
from domain.access.business_line import BusinessLine
from domain.access.field_rule import FieldRule
from domain.access.role import Role


class CatalogueCommands(OperatorCommands):
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
        self._known("role", applies_to_roles + exempt_roles, "roles")
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
