"""Operators: profile, password, status, roles, business lines, data scope."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from application.access.secrets import hash_password
from application.shared.base import CommandResult, Loader, command
from domain.access.credentials import Session
from domain.access.department import Department
from domain.access.operator import Operator, check_password_strength
from domain.shared.errors import RuleViolationError


class Operators:
    # From the host (LedgerApplication, Departments, Catalogue):
    load: Loader
    save_one: Callable[[Any], CommandResult]
    save_all: Callable[..., int]
    create_unique: Callable[[Any, str], CommandResult]
    department: Callable[..., Department]
    require_known: Callable[[str, list[str], str], None]

    @command
    def create_operator(self, login_name: str, display_name: str, department_id: UUID, phone: str | None,
                        email: str | None, password: str | None) -> CommandResult:
        self.department(department_id)
        operator = Operator.create(login_name, display_name, department_id, phone, email)
        if password is not None:
            check_password_strength(password, login_name)
            operator.set_password_hash(hash_password(password))
        return self.create_unique(operator, f"login name {login_name!r}")

    @command
    def change_operator_profile(self, operator_id: UUID, display_name: str, department_id: UUID,
                                phone: str | None, email: str | None, expected_version: int | None) -> CommandResult:
        operator = self.load(operator_id, Operator, expected_version=expected_version)
        self.department(department_id)
        operator.change_profile(display_name, department_id, phone, email)
        return self.save_one(operator)

    @command
    def request_department_move(self, operator_id: UUID, department_id: UUID, requested_by: str,
                                expected_version: int | None) -> CommandResult:
        operator = self.load(operator_id, Operator, expected_version=expected_version)
        if self.department(department_id).closed:
            raise RuleViolationError("the department is closed", field="department_id")
        operator.request_department_move(department_id, requested_by)
        return self.save_one(operator)

    @command
    def decide_department_move(self, operator_id: UUID, approve: bool, decided_by: str) -> CommandResult:
        operator = self.load(operator_id, Operator)
        if approve:
            operator.approve_department_move(decided_by)
        else:
            operator.reject_department_move()
        return self.save_one(operator)

    @command
    def set_operator_password(self, operator_id: UUID, password: str, open_sessions: list[UUID]) -> CommandResult:
        """A new password ends every open session of the operator, in the same transaction."""
        operator = self.load(operator_id, Operator)
        check_password_strength(password, operator.login_name)
        operator.set_password_hash(hash_password(password))
        sessions = [self.load(session_id, Session) for session_id in open_sessions]
        for session in sessions:
            session.revoke("password changed")
        position = self.save_all(operator, *sessions)
        return CommandResult(operator.id, operator.version, position)

    @command
    def disable_operator(self, operator_id: UUID, reason: str) -> CommandResult:
        operator = self.load(operator_id, Operator)
        operator.disable(reason)
        return self.save_one(operator)

    @command
    def enable_operator(self, operator_id: UUID) -> CommandResult:
        operator = self.load(operator_id, Operator)
        operator.enable()
        return self.save_one(operator)

    @command
    def unlock_operator(self, operator_id: UUID) -> CommandResult:
        operator = self.load(operator_id, Operator)
        operator.unlock()
        return self.save_one(operator)

    @command
    def grant_roles(self, operator_id: UUID, roles: list[str]) -> CommandResult:
        self.require_known("role", roles, "roles")
        operator = self.load(operator_id, Operator)
        operator.grant_roles(roles)
        return self.save_one(operator)

    @command
    def revoke_roles(self, operator_id: UUID, roles: list[str]) -> CommandResult:
        operator = self.load(operator_id, Operator)
        operator.revoke_roles(roles)
        return self.save_one(operator)

    @command
    def set_business_lines(self, operator_id: UUID, lines: list[str]) -> CommandResult:
        self.require_known("business_line", lines, "business_lines")
        operator = self.load(operator_id, Operator)
        operator.set_business_lines(lines)
        return self.save_one(operator)

    @command
    def set_data_scope(self, operator_id: UUID, jurisdiction: list[dict[str, Any]],
                       investor_accounts: list[str]) -> CommandResult:
        for item in jurisdiction:
            self.department(UUID(str(item["department_id"])), "jurisdiction")
        operator = self.load(operator_id, Operator)
        operator.set_data_scope([{"department_id": str(j["department_id"]),
                                  "include_children": bool(j.get("include_children", True))} for j in jurisdiction],
                                investor_accounts)
        return self.save_one(operator)
