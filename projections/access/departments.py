"""Read model: the department list (the organisation tree as rows)."""
from __future__ import annotations

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
