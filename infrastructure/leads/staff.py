"""The leads context's ``Staff`` port over the access context: operators and roles read from
their aggregates through the access application (never a lagging read model), so an employee
disabled a moment ago receives no further lead."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.access.operator import Operator
from domain.access.role import Role
from domain.leads.employee import Employee
from domain.shared.errors import NotFoundError
from domain.shared.ids import natural_id

PREFIX = "operator:"


class AccessStaff:
    def __init__(self, access: Any):
        self.access = access  # anything with load(id, kind): the access context's application

    def employees(self, members: Iterable[str], business_line: str) -> dict[str, Employee]:
        out: dict[str, Employee] = {}
        permissions: dict[str, list[str]] = {}
        for member in dict.fromkeys(members):
            if not member.startswith(PREFIX):
                continue
            try:
                operator = self.access.load(natural_id("operator", member[len(PREFIX):]), Operator)
            except NotFoundError:
                continue
            out[member] = Employee(str(operator.department_id),
                                   self._why_not(operator, business_line, permissions))
        return out

    def _why_not(self, operator: Operator, business_line: str, permissions: dict[str, list[str]]) -> str | None:
        if operator.status != "active":
            return "the employee is disabled"
        if business_line not in operator.business_lines:
            return f"the employee does not work in business line {business_line!r}"
        for key in operator.roles:
            if key not in permissions:
                try:
                    permissions[key] = self.access.load(natural_id("role", key), Role).permissions
                except NotFoundError:
                    permissions[key] = []
            if any(p.startswith("leads.") for p in permissions[key]):
                return None
        return "the employee holds no leads permission"
