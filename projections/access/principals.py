"""Read models the policy consults on every request: operators, roles, business lines,
field rules, sessions, API tokens and delegations (projections/access/delegations.py). One
projection, so one position to wait for after a security-relevant command (ADR 0006)."""
from __future__ import annotations

from typing import Any

import orjson

from domain.access.business_line import BusinessLine
from domain.access.credentials import ApiToken, Session
from domain.access.field_rule import FieldRule
from domain.access.operator import Operator
from domain.access.role import Role
from domain.shared.aggregate import LedgerAggregate
from projections.access import delegations
from projections.framework import PostgresProjection, SqlWriter, handles

OPERATOR_COLUMNS = ("id, login_name, display_name, department_id, phone, email, status, roles, business_lines,"
                    " jurisdiction, investor_accounts, failed_logins, locked_until, version, created_at, updated_at")


def _touch(w: SqlWriter, table: str, e: LedgerAggregate.Event, position: int, assignments: str,
           params: tuple[Any, ...]) -> None:
    # Table names and assignments are code constants; values are always parameters.
    w.execute(f"UPDATE {table} SET {assignments}, version = %s, updated_at = %s, position = %s WHERE id = %s",
              (*params, e.originator_version, e.timestamp, position, e.originator_id))


class PrincipalsProjection(delegations.DelegationRows, PostgresProjection):
    name = "access.principals"
    tables = ("access_operators", "access_roles", "access_business_lines", "access_field_rules",
              "access_sessions", "access_api_tokens", delegations.TABLE)
    schema = (
        "CREATE TABLE IF NOT EXISTS access_operators (id uuid PRIMARY KEY, login_name text UNIQUE NOT NULL,"
        " display_name text NOT NULL, department_id uuid NOT NULL, phone text, email text, status text NOT NULL,"
        " password_hash text, roles text[] NOT NULL DEFAULT '{}', business_lines text[] NOT NULL DEFAULT '{}',"
        " jurisdiction jsonb NOT NULL DEFAULT '[]', investor_accounts text[] NOT NULL DEFAULT '{}',"
        " failed_logins int NOT NULL DEFAULT 0, locked_until timestamptz, version int NOT NULL,"
        " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS access_operators_dept ON access_operators (department_id, login_name)",
        "ALTER TABLE access_operators ADD COLUMN IF NOT EXISTS pending_department_id uuid",
        "ALTER TABLE access_operators ADD COLUMN IF NOT EXISTS move_requested_by text",
        "CREATE TABLE IF NOT EXISTS access_roles (id uuid PRIMARY KEY, key text UNIQUE NOT NULL, name text NOT NULL,"
        " permissions text[] NOT NULL, version int NOT NULL, updated_at timestamptz NOT NULL,"
        " position bigint NOT NULL)",
        "ALTER TABLE access_roles ADD COLUMN IF NOT EXISTS owner_department_id uuid",
        "CREATE TABLE IF NOT EXISTS access_business_lines (id uuid PRIMARY KEY, code text UNIQUE NOT NULL,"
        " name text NOT NULL, active boolean NOT NULL DEFAULT true, version int NOT NULL,"
        " updated_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS access_field_rules (id uuid PRIMARY KEY, resource text NOT NULL,"
        " field text NOT NULL, effect text NOT NULL, mask text, applies_to_roles text[] NOT NULL,"
        " applies_to_departments text[] NOT NULL,"
        " exempt_roles text[] NOT NULL, exempt_departments text[] NOT NULL, active boolean NOT NULL DEFAULT true,"
        " version int NOT NULL, updated_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS access_sessions (id uuid PRIMARY KEY, operator_id uuid NOT NULL,"
        " access_hash text UNIQUE NOT NULL, refresh_hash text NOT NULL, access_expires_at timestamptz NOT NULL,"
        " refresh_expires_at timestamptz NOT NULL, revoked boolean NOT NULL DEFAULT false, version int NOT NULL,"
        " updated_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS access_sessions_operator ON access_sessions (operator_id)",
        "CREATE TABLE IF NOT EXISTS access_api_tokens (id uuid PRIMARY KEY, name text NOT NULL,"
        " token_hash text UNIQUE NOT NULL, scopes text[] NOT NULL, permissions text[] NOT NULL,"
        " business_lines text[] NOT NULL, expires_at timestamptz, revoked boolean NOT NULL DEFAULT false,"
        " created_by text NOT NULL, issuer jsonb NOT NULL, created_at timestamptz NOT NULL, version int NOT NULL,"
        " updated_at timestamptz NOT NULL, position bigint NOT NULL)",
        *delegations.SCHEMA,
    )

    # -- operators ----------------------------------------------------------------
    @handles(Operator.Created)
    def operator_created(self, w: SqlWriter, e: Operator.Created, position: int) -> None:
        w.execute("INSERT INTO access_operators (id, login_name, display_name, department_id, phone, email, status,"
                  " version, created_at, updated_at, position) VALUES (%s,%s,%s,%s,%s,%s,'active',%s,%s,%s,%s)",
                  (e.originator_id, e.login_name, e.display_name, e.department_id, e.phone, e.email,
                   e.originator_version, e.timestamp, e.timestamp, position))

    @handles(Operator.ProfileChanged)
    def profile(self, w: SqlWriter, e: Operator.ProfileChanged, position: int) -> None:
        _touch(w, "access_operators", e, position, "display_name = %s, department_id = %s, phone = %s, email = %s",
               (e.display_name, e.department_id, e.phone, e.email))

    @handles(Operator.DepartmentMoveRequested)
    def move_requested(self, w: SqlWriter, e: Operator.DepartmentMoveRequested, position: int) -> None:
        _touch(w, "access_operators", e, position, "pending_department_id = %s, move_requested_by = %s",
               (e.department_id, e.requested_by))

    @handles(Operator.DepartmentMoveDecided)
    def move_decided(self, w: SqlWriter, e: Operator.DepartmentMoveDecided, position: int) -> None:
        _touch(w, "access_operators", e, position, "pending_department_id = NULL, move_requested_by = %s", (None,))

    @handles(Operator.PasswordSet)
    def password(self, w: SqlWriter, e: Operator.PasswordSet, position: int) -> None:
        _touch(w, "access_operators", e, position, "password_hash = %s, failed_logins = 0, locked_until = NULL",
               (e.password_hash,))

    @handles(Operator.Disabled)
    def disabled(self, w: SqlWriter, e: Operator.Disabled, position: int) -> None:
        _touch(w, "access_operators", e, position, "status = %s", ("disabled",))

    @handles(Operator.Enabled)
    def enabled(self, w: SqlWriter, e: Operator.Enabled, position: int) -> None:
        _touch(w, "access_operators", e, position, "status = %s", ("active",))

    @handles(Operator.RolesGranted)
    def roles_granted(self, w: SqlWriter, e: Operator.RolesGranted, position: int) -> None:
        _touch(w, "access_operators", e, position,
               "roles = ARRAY(SELECT DISTINCT unnest(roles || %s::text[]) ORDER BY 1)", (e.roles,))

    @handles(Operator.RolesRevoked)
    def roles_revoked(self, w: SqlWriter, e: Operator.RolesRevoked, position: int) -> None:
        _touch(w, "access_operators", e, position,
               "roles = ARRAY(SELECT r FROM unnest(roles) r WHERE r <> ALL(%s::text[]) ORDER BY 1)", (e.roles,))

    @handles(Operator.BusinessLinesSet)
    def lines(self, w: SqlWriter, e: Operator.BusinessLinesSet, position: int) -> None:
        _touch(w, "access_operators", e, position, "business_lines = %s", (e.business_lines,))

    @handles(Operator.DataScopeSet)
    def scope(self, w: SqlWriter, e: Operator.DataScopeSet, position: int) -> None:
        _touch(w, "access_operators", e, position, "jurisdiction = %s::jsonb, investor_accounts = %s",
               (orjson.dumps(e.jurisdiction).decode(), e.investor_accounts))

    @handles(Operator.LoginFailed)
    def login_failed(self, w: SqlWriter, e: Operator.LoginFailed, position: int) -> None:
        if e.locked_until is not None:
            _touch(w, "access_operators", e, position, "failed_logins = 0, locked_until = %s", (e.locked_until,))
        else:
            _touch(w, "access_operators", e, position, "failed_logins = failed_logins + %s", (1,))

    @handles(Operator.LoginSucceeded, Operator.Unlocked)
    def unlocked(self, w: SqlWriter, e: Operator.LoginSucceeded | Operator.Unlocked, position: int) -> None:
        _touch(w, "access_operators", e, position, "failed_logins = %s, locked_until = NULL", (0,))

    # -- roles, lines, field rules ----------------------------------------------------
    @handles(Role.Created)
    def role_created(self, w: SqlWriter, e: Role.Created, position: int) -> None:
        w.execute("INSERT INTO access_roles (id, key, name, permissions, version, updated_at, position)"
                  " VALUES (%s,%s,%s,%s,%s,%s,%s)",
                  (e.originator_id, e.key, e.name, e.permissions, e.originator_version, e.timestamp, position))

    @handles(Role.PermissionsSet)
    def role_permissions(self, w: SqlWriter, e: Role.PermissionsSet, position: int) -> None:
        _touch(w, "access_roles", e, position, "permissions = %s", (e.permissions,))

    @handles(Role.OwnerSet)
    def role_owner(self, w: SqlWriter, e: Role.OwnerSet, position: int) -> None:
        _touch(w, "access_roles", e, position, "owner_department_id = %s", (e.department_id,))

    @handles(Role.Renamed)
    def role_renamed(self, w: SqlWriter, e: Role.Renamed, position: int) -> None:
        _touch(w, "access_roles", e, position, "name = %s", (e.name,))

    @handles(BusinessLine.Created)
    def line_created(self, w: SqlWriter, e: BusinessLine.Created, position: int) -> None:
        w.execute("INSERT INTO access_business_lines VALUES (%s,%s,%s,true,%s,%s,%s)",
                  (e.originator_id, e.code, e.name, e.originator_version, e.timestamp, position))

    @handles(BusinessLine.Renamed)
    def line_renamed(self, w: SqlWriter, e: BusinessLine.Renamed, position: int) -> None:
        _touch(w, "access_business_lines", e, position, "name = %s", (e.name,))

    @handles(FieldRule.Defined)
    def rule_defined(self, w: SqlWriter, e: FieldRule.Defined, position: int) -> None:
        w.execute("INSERT INTO access_field_rules VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,true,%s,%s,%s)",
                  (e.originator_id, e.resource, e.field, e.effect, e.mask, e.applies_to_roles,
                   e.applies_to_departments, e.exempt_roles, e.exempt_departments, e.originator_version,
                   e.timestamp, position))

    @handles(FieldRule.Withdrawn)
    def rule_withdrawn(self, w: SqlWriter, e: FieldRule.Withdrawn, position: int) -> None:
        _touch(w, "access_field_rules", e, position, "active = %s", (False,))

    # -- credentials --------------------------------------------------------------------
    @handles(Session.Started)
    def session_started(self, w: SqlWriter, e: Session.Started, position: int) -> None:
        w.execute("INSERT INTO access_sessions VALUES (%s,%s,%s,%s,%s,%s,false,%s,%s,%s)",
                  (e.originator_id, e.operator_id, e.access_hash, e.refresh_hash, e.access_expires_at,
                   e.refresh_expires_at, e.originator_version, e.timestamp, position))

    @handles(Session.Refreshed)
    def session_refreshed(self, w: SqlWriter, e: Session.Refreshed, position: int) -> None:
        _touch(w, "access_sessions", e, position,
               "access_hash = %s, refresh_hash = %s, access_expires_at = %s, refresh_expires_at = %s",
               (e.access_hash, e.refresh_hash, e.access_expires_at, e.refresh_expires_at))

    @handles(Session.Revoked)
    def session_revoked(self, w: SqlWriter, e: Session.Revoked, position: int) -> None:
        _touch(w, "access_sessions", e, position, "revoked = %s", (True,))

    @handles(ApiToken.Issued)
    def token_issued(self, w: SqlWriter, e: ApiToken.Issued, position: int) -> None:
        w.execute("INSERT INTO access_api_tokens VALUES (%s,%s,%s,%s,%s,%s,%s,false,%s,%s::jsonb,%s,%s,%s,%s)",
                  (e.originator_id, e.name, e.token_hash, e.scopes, e.permissions, e.business_lines,
                   e.expires_at, e.actor, orjson.dumps(e.issuer).decode(), e.timestamp, e.originator_version,
                   e.timestamp, position))

    @handles(ApiToken.Revoked)
    def token_revoked(self, w: SqlWriter, e: ApiToken.Revoked, position: int) -> None:
        _touch(w, "access_api_tokens", e, position, "revoked = %s", (True,))
