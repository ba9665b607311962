"""Operator: a person who works in Ledgerflow, with roles, business lines and a data scope."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import PermissionDeniedError, RuleViolationError
from domain.shared.ids import natural_id

LOGIN_NAME = re.compile(r"^[a-z][a-z0-9._\-]{2,31}$")
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


def check_password_strength(password: str, login_name: str) -> None:
    problems = []
    if len(password) < 10:
        problems.append("at least 10 characters")
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if classes < 3:
        problems.append("three of: lower case, upper case, digit, symbol")
    if login_name.lower() in password.lower():
        problems.append("not containing the login name")
    if problems:
        raise RuleViolationError("password too weak: needs " + ", ".join(problems), field="password")


class Operator(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        login_name: str
        display_name: str
        department_id: UUID
        phone: str | None
        email: str | None

    @event(Created)
    def __init__(self, login_name: str, display_name: str, department_id: UUID, phone: str | None,
                 email: str | None):
        self.login_name = login_name
        self.display_name = display_name
        self.department_id = department_id
        self.phone = phone
        self.email = email
        self.status = "active"
        self.password_hash: str | None = None
        self.roles: list[str] = []
        self.business_lines: list[str] = []
        self.jurisdiction: list[dict[str, Any]] = []  # [{"department_id": str, "include_children": bool}]
        self.investor_accounts: list[str] = []
        self.failed_logins = 0
        self.locked_until: datetime | None = None

    @classmethod
    def create(cls, login_name: str, display_name: str, department_id: UUID, phone: str | None,
               email: str | None) -> Operator:
        if not LOGIN_NAME.fullmatch(login_name):
            raise RuleViolationError("login name must be 3-32 of a-z, 0-9, '.', '_', '-', starting with a letter",
                                     field="login_name")
        # The id derives from the login name, so a duplicate login collides in the event store.
        return cls._create(cls.Created, id=natural_id("operator", login_name), login_name=login_name,
                           display_name=display_name.strip(), department_id=department_id, phone=phone, email=email)

    # -- profile ----------------------------------------------------------------
    class ProfileChanged(LedgerAggregate.Event):
        display_name: str
        department_id: UUID
        phone: str | None
        email: str | None

    @event(ProfileChanged)
    def change_profile(self, display_name: str, department_id: UUID, phone: str | None, email: str | None) -> None:
        self.display_name, self.department_id, self.phone, self.email = display_name, department_id, phone, email

    # -- moves that need a second administrator ---------------------------------------------
    pending_department_id: UUID | None = None
    move_requested_by: str | None = None

    def request_department_move(self, department_id: UUID, requested_by: str) -> None:
        if department_id == self.department_id:
            raise RuleViolationError("the operator already works in that department", field="department_id")
        self._move_requested(department_id=department_id, requested_by=requested_by)

    class DepartmentMoveRequested(LedgerAggregate.Event):
        department_id: UUID
        requested_by: str

    @event(DepartmentMoveRequested)
    def _move_requested(self, department_id: UUID, requested_by: str) -> None:
        self.pending_department_id, self.move_requested_by = department_id, requested_by

    def approve_department_move(self, approved_by: str) -> None:
        """Four eyes: whoever asked for the move, or the operator moved, cannot approve it."""
        if self.pending_department_id is None:
            raise RuleViolationError("no department move is waiting for approval")
        if approved_by == self.move_requested_by or approved_by == f"operator:{self.login_name}":
            raise PermissionDeniedError("a second administrator must approve this move", field="approved_by")
        self.change_profile(self.display_name, self.pending_department_id, self.phone, self.email)
        self._move_decided(approved=True)

    def reject_department_move(self) -> None:
        if self.pending_department_id is None:
            raise RuleViolationError("no department move is waiting for approval")
        self._move_decided(approved=False)

    class DepartmentMoveDecided(LedgerAggregate.Event):
        approved: bool

    @event(DepartmentMoveDecided)
    def _move_decided(self, approved: bool) -> None:
        self.pending_department_id = self.move_requested_by = None

    class PasswordSet(LedgerAggregate.Event):
        password_hash: str

    @event(PasswordSet)
    def set_password_hash(self, password_hash: str) -> None:
        self.password_hash = password_hash
        self.failed_logins = 0
        self.locked_until = None

    def disable(self, reason: str) -> None:
        if self.status == "disabled":
            raise RuleViolationError("operator is already disabled")
        self._disabled(reason=reason)

    class Disabled(LedgerAggregate.Event):
        reason: str

    @event(Disabled)
    def _disabled(self, reason: str) -> None:
        self.status = "disabled"

    def enable(self) -> None:
        if self.status == "active":
            raise RuleViolationError("operator is already active")
        self._enabled()

    class Enabled(LedgerAggregate.Event):
        pass

    @event(Enabled)
    def _enabled(self) -> None:
        self.status = "active"

    # -- grants: each event names what changed; the actor is in the metadata ------
    def grant_roles(self, roles: list[str]) -> None:
        new = sorted(set(roles) - set(self.roles))
        if new:
            self._roles_granted(roles=new)

    class RolesGranted(LedgerAggregate.Event):
        roles: list[str]

    @event(RolesGranted)
    def _roles_granted(self, roles: list[str]) -> None:
        self.roles = sorted(set(self.roles) | set(roles))

    def revoke_roles(self, roles: list[str]) -> None:
        gone = sorted(set(roles) & set(self.roles))
        if gone:
            self._roles_revoked(roles=gone)

    class RolesRevoked(LedgerAggregate.Event):
        roles: list[str]

    @event(RolesRevoked)
    def _roles_revoked(self, roles: list[str]) -> None:
        self.roles = sorted(set(self.roles) - set(roles))

    def set_business_lines(self, lines: list[str]) -> None:
        lines = sorted(set(lines))
        if lines != self.business_lines:
            self._lines_set(business_lines=lines, old_business_lines=self.business_lines)

    class BusinessLinesSet(LedgerAggregate.Event):
        business_lines: list[str]
        old_business_lines: list[str]

    @event(BusinessLinesSet)
    def _lines_set(self, business_lines: list[str], old_business_lines: list[str]) -> None:
        self.business_lines = business_lines

    def set_data_scope(self, jurisdiction: list[dict[str, Any]], investor_accounts: list[str]) -> None:
        jurisdiction = sorted(jurisdiction, key=lambda j: j["department_id"])
        investor_accounts = sorted(set(investor_accounts))
        if (jurisdiction, investor_accounts) != (self.jurisdiction, self.investor_accounts):
            self._scope_set(jurisdiction=jurisdiction, investor_accounts=investor_accounts)

    class DataScopeSet(LedgerAggregate.Event):
        jurisdiction: list[dict[str, Any]]
        investor_accounts: list[str]

    @event(DataScopeSet)
    def _scope_set(self, jurisdiction: list[dict[str, Any]], investor_accounts: list[str]) -> None:
        self.jurisdiction = jurisdiction
        self.investor_accounts = investor_accounts

    # -- authentication -------------------------------------------------------------
    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def record_failed_login(self, now: datetime) -> None:
        locked_until = now + LOCKOUT if self.failed_logins + 1 >= MAX_FAILED_LOGINS else None
        self._login_failed(locked_until=locked_until)

    class LoginFailed(LedgerAggregate.Event):
        locked_until: datetime | None

    @event(LoginFailed)
    def _login_failed(self, locked_until: datetime | None) -> None:
        self.failed_logins += 1
        if locked_until is not None:
            self.locked_until = locked_until
            self.failed_logins = 0

    def record_login(self) -> None:
        if self.failed_logins or self.locked_until:
            self._login_succeeded()

    class LoginSucceeded(LedgerAggregate.Event):
        pass

    @event(LoginSucceeded)
    def _login_succeeded(self) -> None:
        self.failed_logins = 0
        self.locked_until = None

    class Unlocked(LedgerAggregate.Event):
        pass

    @event(Unlocked)
    def unlock(self) -> None:
        self.failed_logins = 0
        self.locked_until = None
