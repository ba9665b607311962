"""Use cases of the access context that exist so far: departments."""
from __future__ import annotations

from uuid import UUID

from application.shared.base import CommandResult, LedgerApplication, command
from domain.access.department import Department
from domain.shared.errors import NotFoundError, RuleViolationError


class AccessApplication(LedgerApplication):
    name = "access"

    @command
    def create_department(self, code: str, name: str, kind: str, parent_id: UUID | None, *,
                          id: UUID | None = None) -> CommandResult:  # noqa: A002 - fixed ids for demo/imports
        if parent_id is not None:
            try:
                parent = self.load(parent_id, Department)
            except NotFoundError:
                raise NotFoundError(f"parent department {parent_id} does not exist", field="parent_id") from None
            if parent.closed:
                raise RuleViolationError("the parent department is closed", field="parent_id")
        return self.save_one(Department.create(code, name, kind, parent_id, id=id))

    @command
    def rename_department(self, department_id: UUID, name: str, expected_version: int | None) -> CommandResult:
        department = self.load(department_id, Department, expected_version=expected_version)
        department.rename(name)
        return self.save_one(department)
