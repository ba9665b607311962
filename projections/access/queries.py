"""Queries over the access read models (used by the policy's principal resolution and the API)."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.access.masking import FieldRuleView

SCOPE_BY_DEPARTMENT = "(%(all_departments)s OR department_id = ANY(%(departments)s))"


class AccessQueries:
    def __init__(self, db: Any):
        self.db = db

    # -- authentication lookups ----------------------------------------------------------------
    def session_by_access_hash(self, access_hash: str) -> dict[str, Any] | None:
        return self.db.fetch_one(
            "SELECT s.id AS session_id, s.revoked, s.access_expires_at, s.version AS session_version, o.*"
            " FROM access_sessions s"
            " JOIN access_operators o ON o.id = s.operator_id WHERE s.access_hash = %s", (access_hash,))

    def api_token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        return self.db.fetch_one(
            "SELECT t.*, o.status AS issuer_status, o.roles AS issuer_roles, o.business_lines AS issuer_lines,"
            " o.jurisdiction AS issuer_jurisdiction, o.investor_accounts AS issuer_accounts,"
            " o.department_id AS issuer_department_id, o.version AS issuer_version FROM access_api_tokens t"
            " LEFT JOIN access_operators o ON o.id = (t.issuer->>'operator_id')::uuid WHERE t.token_hash = %s",
            (token_hash,))

    def active_sessions_of(self, operator_id: UUID) -> list[UUID]:
        rows = self.db.fetch_all("SELECT id FROM access_sessions WHERE operator_id = %s AND NOT revoked"
                                 " AND refresh_expires_at > now()", (operator_id,))
        return [r["id"] for r in rows]

    def roles_of(self, roles: list[str]) -> list[dict[str, Any]]:
        """Key, permissions and read-model version of these roles (the principal's freshness check)."""
        return self.db.fetch_all("SELECT key, permissions, version FROM access_roles WHERE key = ANY(%s)", (roles,))

    def permissions_of(self, roles: list[str]) -> set[str]:
        rows = self.db.fetch_all("SELECT unnest(permissions) AS p FROM access_roles WHERE key = ANY(%s)", (roles,))
        return {r["p"] for r in rows}

    def expand_jurisdiction(self, jurisdiction: list[dict]) -> set[UUID]:
        with_children = [UUID(j["department_id"]) for j in jurisdiction if j.get("include_children", True)]
        only = {UUID(j["department_id"]) for j in jurisdiction if not j.get("include_children", True)}
        if not with_children:
            return only
        rows = self.db.fetch_all(
            "WITH RECURSIVE t(id) AS (SELECT id FROM access_departments WHERE id = ANY(%s)"
            " UNION SELECT d.id FROM access_departments d JOIN t ON d.parent_id = t.id) SELECT id FROM t",
            (with_children,))
        return only | {r["id"] for r in rows}

    def field_rules(self, resource: str) -> list[FieldRuleView]:
        rows = self.db.fetch_all("SELECT * FROM access_field_rules WHERE resource = %s AND active", (resource,))
        return [self.field_rule_view(r) for r in rows]

    @staticmethod
    def field_rule_view(r: dict[str, Any]) -> FieldRuleView:
        return FieldRuleView(r["resource"], r["field"], r["effect"], r["mask"], frozenset(r["applies_to_roles"]),
                             frozenset(r["applies_to_departments"]), frozenset(r["exempt_roles"]),
                             frozenset(r["exempt_departments"]))

    # -- administration lists ------------------------------------------------------------------
    def operator(self, operator_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM access_operators WHERE id = %s", (operator_id,))

    def operators(self, scope: dict[str, Any], *, department_id: UUID | None = None, status: str | None = None,
                  q: str | None = None, after: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT * FROM access_operators WHERE " + SCOPE_BY_DEPARTMENT +
            " AND (%(dept)s::uuid IS NULL OR department_id = %(dept)s)"
            " AND (%(status)s::text IS NULL OR status = %(status)s)"
            " AND (%(q)s::text IS NULL OR login_name ILIKE %(q)s || '%%' OR display_name ILIKE '%%' || %(q)s || '%%')"
            " AND (%(after)s::text IS NULL OR login_name > %(after)s)"
            " ORDER BY login_name LIMIT %(limit)s",
            {**scope, "dept": department_id, "status": status, "q": q, "after": after, "limit": limit})

    def firm(self) -> tuple[list[UUID], list[str]]:
        """Every open department and every business line: what firm-wide reach must cover."""
        departments = self.db.fetch_all("SELECT id FROM access_departments WHERE NOT closed")
        lines = self.db.fetch_all("SELECT code FROM access_business_lines")
        return [r["id"] for r in departments], [r["code"] for r in lines]

    def role(self, key: str) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM access_roles WHERE key = %s", (key,))

    def roles(self) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT * FROM access_roles ORDER BY key")

    def business_lines(self) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT * FROM access_business_lines ORDER BY code")

    def field_rule_rows(self) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT * FROM access_field_rules WHERE active ORDER BY resource, field, id")

    def api_token(self, token_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM access_api_tokens WHERE id = %s", (token_id,))

    def api_tokens(self) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT * FROM access_api_tokens ORDER BY created_at, id")

    # -- delegations (ADR 0016) -------------------------------------------------------------------
    def operator_by_login(self, login_name: str) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM access_operators WHERE login_name = %s", (login_name,))

    def delegation(self, delegation_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one(
            "SELECT d.*, t.name AS api_token_name, o.department_id FROM access_delegations d"
            " JOIN access_operators o ON o.id = d.operator_id"
            " LEFT JOIN access_api_tokens t ON t.id = d.api_token_id WHERE d.id = %s", (delegation_id,))

    def delegations(self, scope: dict[str, Any], *, operator_id: UUID | None = None,
                    after: tuple[Any, ...] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Grants, oldest first, keyset-paged by (created_at, id); ``scope`` limits them to operators
        of departments in the caller's scope (``Policy.scope_params``)."""
        at, last = after if after is not None else (None, None)
        return self.db.fetch_all(
            "SELECT d.*, t.name AS api_token_name, o.department_id FROM access_delegations d"
            " JOIN access_operators o ON o.id = d.operator_id"
            " LEFT JOIN access_api_tokens t ON t.id = d.api_token_id WHERE " + SCOPE_BY_DEPARTMENT +
            " AND (%(operator)s::uuid IS NULL OR d.operator_id = %(operator)s)"
            " AND (%(at)s::timestamptz IS NULL OR (d.created_at, d.id) > (%(at)s, %(last)s::uuid))"
            " ORDER BY d.created_at, d.id LIMIT %(limit)s",
            {**scope, "operator": operator_id, "at": at, "last": last, "limit": limit})

    def delegation_clients(self) -> list[dict[str, Any]]:
        """Live API tokens issued to act on behalf: the clients an operator may delegate to."""
        return self.db.fetch_all(
            "SELECT id, name, expires_at FROM access_api_tokens WHERE NOT revoked"
            " AND (expires_at IS NULL OR expires_at > now()) AND 'oa.act_on_behalf' = ANY(permissions)"
            " ORDER BY name, id")

    # -- flow assignees ---------------------------------------------------------------------------
    def assignees(self, kind: str, value: str | None, business_line: str | None) -> list[str]:
        """Active operators a flow node may be given to, as actors (operator:<login>), who work in
        the record's business line."""
        where = {"role": "%(value)s = ANY(roles)", "department": "department_id = %(value)s::uuid",
                 "operator": "login_name = %(value)s"}[kind]
        rows = self.db.fetch_all(
            "SELECT login_name FROM access_operators WHERE status = 'active' AND " + where +
            " AND (%(line)s::text IS NULL OR %(line)s = ANY(business_lines)) ORDER BY login_name",
            {"value": value, "line": business_line})
        return [f"operator:{r['login_name']}" for r in rows]

    def department_heads(self, login_name: str, business_line: str | None) -> list[str]:
        rows = self.db.fetch_all(
            "SELECT h.login_name FROM access_operators o JOIN access_operators h ON h.department_id = o.department_id"
            " WHERE o.login_name = %(login)s AND h.status = 'active' AND 'department_head' = ANY(h.roles)"
            " AND (%(line)s::text IS NULL OR %(line)s = ANY(h.business_lines)) ORDER BY h.login_name",
            {"login": login_name, "line": business_line})
        return [f"operator:{r['login_name']}" for r in rows]

    def heads_of(self, department_id: Any, business_line: str | None) -> list[str]:
        """The heads (role ``department_head``) of a department: whom a timeout escalates to."""
        rows = self.db.fetch_all(
            "SELECT login_name FROM access_operators WHERE department_id = %(department)s AND status = 'active'"
            " AND 'department_head' = ANY(roles) AND (%(line)s::text IS NULL OR %(line)s = ANY(business_lines))"
            " ORDER BY login_name", {"department": department_id, "line": business_line})
        return [f"operator:{r['login_name']}" for r in rows]

    def initiator_facts(self, actor: str) -> dict[str, Any]:
        """What branch conditions may know about whoever starts a flow, as it is at that moment."""
        row = self.db.fetch_one("SELECT department_id, roles, business_lines FROM access_operators"
                                " WHERE login_name = %s", (actor.removeprefix("operator:"),))
        if row is None:
            return {}
        return {"department_id": str(row["department_id"]), "roles": list(row["roles"]),
                "business_lines": list(row["business_lines"])}
