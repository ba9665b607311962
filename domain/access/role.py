"""Role: a named set of menu/action keys."""
from __future__ import annotations

import re
from uuid import UUID

from eventsourcing.domain import event

from domain.access.catalogue import unknown_actions
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id

ROLE_KEY = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def _check(permissions: list[str]) -> list[str]:
    unknown = unknown_actions(set(permissions))
    if unknown:
        raise RuleViolationError(f"unknown action keys: {', '.join(unknown)}", field="permissions")
    return sorted(set(permissions))


class Role(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        key: str
        name: str
        permissions: list[str]

    @event(Created)
    def __init__(self, key: str, name: str, permissions: list[str]):
        self.key = key
        self.name = name
        self.permissions = permissions

    # The department that owns a role (None: a firm-wide role). Only callers whose data scope
    # covers the owner may change a role; firm-wide roles need firm-wide reach.
    owner_department_id: UUID | None = None

    @classmethod
    def create(cls, key: str, name: str, permissions: list[str], owner_department_id: UUID | None = None) -> Role:
        if not ROLE_KEY.fullmatch(key):
            raise RuleViolationError("role key must be 2-32 of a-z, 0-9, '_' starting with a letter", field="key")
        role = cls._create(cls.Created, id=natural_id("role", key), key=key, name=name.strip(),
                           permissions=_check(permissions))
        if owner_department_id is not None:
            role._owned_by(department_id=owner_department_id)
        return role

    class OwnerSet(LedgerAggregate.Event):
        department_id: UUID

    @event(OwnerSet)
    def _owned_by(self, department_id: UUID) -> None:
        self.owner_department_id = department_id

    def set_permissions(self, permissions: list[str]) -> None:
        permissions = _check(permissions)
        if permissions != self.permissions:
            self._permissions_set(permissions=permissions, old_permissions=self.permissions)

    class PermissionsSet(LedgerAggregate.Event):
        permissions: list[str]
        old_permissions: list[str]

    @event(PermissionsSet)
    def _permissions_set(self, permissions: list[str], old_permissions: list[str]) -> None:
        self.permissions = permissions

    class Renamed(LedgerAggregate.Event):
        name: str

    @event(Renamed)
    def rename(self, name: str) -> None:
        self.name = name
