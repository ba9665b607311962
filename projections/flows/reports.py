"""Read model: the saved reports and cockpits (domain/flows/report.py), for their lists. A deleted
one keeps its row, marked, so saving it again under its key revives it."""
from __future__ import annotations

from typing import Any

from domain.flows.report import Cockpit, SavedReport
from projections.framework import PostgresProjection, SqlWriter, handles, json_text


class FlowReportsProjection(PostgresProjection):
    name = "flows.reports"
    tables = ("flows_reports", "flows_cockpits")
    schema = (
        "CREATE TABLE IF NOT EXISTS flows_reports (key text PRIMARY KEY, id uuid NOT NULL, name text NOT NULL,"
        " spec jsonb NOT NULL, owner text NOT NULL, deleted boolean NOT NULL DEFAULT false, version int NOT NULL,"
        " updated_at timestamptz NOT NULL)",
        "CREATE TABLE IF NOT EXISTS flows_cockpits (key text PRIMARY KEY, id uuid NOT NULL, name text NOT NULL,"
        " reports text[] NOT NULL, owner text NOT NULL, deleted boolean NOT NULL DEFAULT false, version int NOT NULL,"
        " updated_at timestamptz NOT NULL)",
    )

    @handles(SavedReport.Created)
    def report_created(self, w: SqlWriter, e: SavedReport.Created, position: int) -> None:
        w.execute("INSERT INTO flows_reports (key, id, name, spec, owner, version, updated_at)"
                  " VALUES (%s, %s, %s, %s::jsonb, %s, %s, %s)",
                  (e.key, e.originator_id, e.name, json_text(e.spec), e.owner, e.originator_version, e.timestamp))

    @handles(SavedReport.Revised)
    def report_revised(self, w: SqlWriter, e: SavedReport.Revised, position: int) -> None:
        w.execute("UPDATE flows_reports SET name = %s, spec = %s::jsonb, deleted = false, version = %s,"
                  " updated_at = %s WHERE id = %s",
                  (e.name, json_text(e.spec), e.originator_version, e.timestamp, e.originator_id))

    @handles(Cockpit.Created)
    def cockpit_created(self, w: SqlWriter, e: Cockpit.Created, position: int) -> None:
        w.execute("INSERT INTO flows_cockpits (key, id, name, reports, owner, version, updated_at)"
                  " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                  (e.key, e.originator_id, e.name, e.reports, e.owner, e.originator_version, e.timestamp))

    @handles(Cockpit.Revised)
    def cockpit_revised(self, w: SqlWriter, e: Cockpit.Revised, position: int) -> None:
        w.execute("UPDATE flows_cockpits SET name = %s, reports = %s, deleted = false, version = %s, updated_at = %s"
                  " WHERE id = %s", (e.name, e.reports, e.originator_version, e.timestamp, e.originator_id))

    @handles(SavedReport.Deleted)
    def report_deleted(self, w: SqlWriter, e: SavedReport.Deleted, position: int) -> None:
        w.execute("UPDATE flows_reports SET deleted = true, version = %s, updated_at = %s WHERE id = %s",
                  (e.originator_version, e.timestamp, e.originator_id))

    @handles(Cockpit.Deleted)
    def cockpit_deleted(self, w: SqlWriter, e: Cockpit.Deleted, position: int) -> None:
        w.execute("UPDATE flows_cockpits SET deleted = true, version = %s, updated_at = %s WHERE id = %s",
                  (e.originator_version, e.timestamp, e.originator_id))


class FlowReportQueries:
    def __init__(self, db: Any):
        self.db = db

    def reports(self, *, after: str | None, limit: int) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT key, name, spec, owner, version, updated_at FROM flows_reports WHERE NOT deleted"
            " AND (%(after)s::text IS NULL OR key > %(after)s) ORDER BY key LIMIT %(limit)s",
            {"after": after, "limit": limit})

    def cockpits(self, *, after: str | None, limit: int) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT key, name, reports, owner, version, updated_at FROM flows_cockpits WHERE NOT deleted"
            " AND (%(after)s::text IS NULL OR key > %(after)s) ORDER BY key LIMIT %(limit)s",
            {"after": after, "limit": limit})
