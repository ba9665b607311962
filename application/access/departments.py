"""Departments: the organisation tree."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from application.shared.base import CommandResult, Loader, command
from domain.access.department import Department
from domain.shared.errors import NotFoundError, RuleViolationError
from domain.shared.ids import natural_id


class Departments:
    # From the host (LedgerApplication):
    load: Loader
    save_one: Callable[[Any], CommandResult]
    create_unique: Callable[[Any, str], CommandResult]

    def department(self, department_id: UUID, field: str = "department_id") -> Department:
        try:
            return self.load(department_id, Department)
        except NotFoundError:
            raise NotFoundError(f"department {department_id} does not exist", field=field) from None

    def _open_parent(self, parent_id: UUID | None) -> None:
        if parent_id is not None and self.department(parent_id, "parent_id").closed:
            raise RuleViolationError("the parent department is closed", field="parent_id")

    @command
    def create_department(self, code: str, name: str, kind: str, parent_id: UUID | None) -> CommandResult:
        self._open_parent(parent_id)
        department = Department.create(code, name, kind, parent_id, id=natural_id("department", code))
        return self.create_unique(department, f"department code {code!r}")

    @command
    def rename_department(self, department_id: UUID, name: str, expected_version: int | None) -> CommandResult:
        department = self.load(department_id, Department, expected_version=expected_version)
        department.rename(name)
        return self.save_one(department)

    @command
    def move_department(self, department_id: UUID, parent_id: UUID | None,
                        expected_version: int | None) -> CommandResult:
        department = self.load(department_id, Department, expected_version=expected_version)
        self._open_parent(parent_id)
        # The ancestor chain comes from the event store, not a read model, so a move racing
        # another move cannot slip a cycle past a stale view.
        ancestors: list[UUID] = []
        cursor = parent_id
        while cursor is not None and len(ancestors) < 64:
            ancestors.append(cursor)
            cursor = self.department(cursor, "parent_id").parent_id
        department.move(parent_id, ancestors)
        return self.save_one(department)

    @command
    def close_department(self, department_id: UUID, reason: str, open_children: int,
                         expected_version: int | None) -> CommandResult:
        department = self.load(department_id, Department, expected_version=expected_version)
        if open_children:
            raise RuleViolationError(f"close or move its {open_children} open sub-departments first")
        department.close(reason)
        return self.save_one(department)
