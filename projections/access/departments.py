"""Read model: the department list (the organisation tree as rows)."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.access.department import Department
from projections.framework import PostgresProjection, SqlWriter, handles


class DepartmentsProjection(PostgresProjection):
    name = "access.departments"
    tables = ("access_departments",)
    schema = (
        "CREATE TABLE IF NOT EXISTS access_departments ("
        " id uuid PRIMARY KEY, code text NOT NULL, name text NOT NULL, kind text NOT NULL,"
        " parent_id uuid, closed boolean NOT NULL DEFAULT false, version int NOT NULL,"
        " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS access_departments_parent ON access_departments (parent_id)",
        "CREATE INDEX IF NOT EXISTS access_departments_name ON access_departments (name, id)",
    )

    @handles(Department.Created)
    def created(self, w: SqlWriter, e: Department.Created, position: int) -> None:
        w.execute(
            "INSERT INTO access_departments (id, code, name, kind, parent_id, version, created_at,"
            " updated_at, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (e.originator_id, e.code, e.name, e.kind, e.parent_id, e.originator_version,
             e.timestamp, e.timestamp, position),
        )

    @handles(Department.Renamed)
    def renamed(self, w: SqlWriter, e: Department.Renamed, position: int) -> None:
        w.execute(
            "UPDATE access_departments SET name = %s, version = %s, updated_at = %s, position = %s"
            " WHERE id = %s",
            (e.name, e.originator_version, e.timestamp, position, e.originator_id),
        )


    @handles(Department.Moved)
    def moved(self, w: SqlWriter, e: Department.Moved, position: int) -> None:
        w.execute("UPDATE access_departments SET parent_id = %s, version = %s, updated_at = %s, position = %s"
                  " WHERE id = %s", (e.parent_id, e.originator_version, e.timestamp, position, e.originator_id))

    @handles(Department.Closed)
    def closed(self, w: SqlWriter, e: Department.Closed, position: int) -> None:
        w.execute("UPDATE access_departments SET closed = true, version = %s, updated_at = %s, position = %s"
                  " WHERE id = %s", (e.originator_version, e.timestamp, position, e.originator_id))


class DepartmentQueries:
    """Queries over the department read model; ``db`` is a ReadModelDb."""

    def __init__(self, db: Any):
        self.db = db

    def get(self, department_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM access_departments WHERE id = %s", (department_id,))

    def open_children(self, department_id: UUID) -> int:
        row = self.db.fetch_one("SELECT count(*) AS n FROM access_departments WHERE parent_id = %s AND NOT closed",
                                (department_id,))
        return row["n"] if row else 0

    def subtree(self, roots: list[UUID]) -> set[UUID]:
        """The given departments and every department below them."""
        rows = self.db.fetch_all(
            "WITH RECURSIVE t(id) AS (SELECT id FROM access_departments WHERE id = ANY(%s)"
            " UNION SELECT d.id FROM access_departments d JOIN t ON d.parent_id = t.id) SELECT id FROM t",
            (list(roots),))
        return {r["id"] for r in rows}

    def list(self, *, parent_id: UUID | None = None, kind: str | None = None, q: str | None = None,
             after: UUID | None = None, limit: int = 50,
             scope: list[UUID] | None = None) -> list[dict[str, Any]]:
        # Keyset pagination on (name, id): stable under concurrent inserts, O(limit) per page.
        return self.db.fetch_all(
            "SELECT * FROM access_departments"
            " WHERE (%(parent)s::uuid IS NULL OR parent_id = %(parent)s)"
            " AND (%(all)s OR id = ANY(%(scope)s))"
            " AND (%(kind)s::text IS NULL OR kind = %(kind)s)"
            " AND (%(q)s::text IS NULL OR name ILIKE '%%' || %(q)s || '%%' OR code ILIKE %(q)s || '%%')"
            # The cursor is the last id only; its name is looked up here, so a cursor never
            # carries a value that a field rule may hide from the caller.
            " AND (%(after_id)s::uuid IS NULL OR (name, id) > (SELECT name, id FROM access_departments"
            " WHERE id = %(after_id)s::uuid))"
            " ORDER BY name, id LIMIT %(limit)s",
            {"parent": parent_id, "kind": kind, "q": q,
             "all": scope is None, "scope": list(scope or []),
             "after_id": after, "limit": limit},
        )
