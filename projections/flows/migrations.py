"""Read side of running-instance migration (ADR 0012): what a ``Migrated`` event changes in the
instance read models (version, current nodes, renamed task nodes, the timeline's `migrated`
entry), the migration records with one row per instance, and the queries over both."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.flows.instance import FlowInstance
from domain.flows.migration_record import InstanceMigration
from domain.shared.aggregate import LedgerAggregate
from projections.flows import board
from projections.flows.board import SCOPE
from projections.flows.rows import InstanceRows
from projections.framework import PostgresProjection, SqlWriter, handles, json_text

IM = InstanceMigration



class MigratedHandler(InstanceRows):
    """Mixed into FlowInstancesProjection: the instance rows after a migration."""

    @handles(FlowInstance.Migrated)
    def migrated(self, w: SqlWriter, e: FlowInstance.Migrated, position: int) -> None:
        instance, renames = e.originator_id, json_text(e.renames)
        reopened = [m["task"] for m in e.moves if m["wait"] == "task_reopened"]
        w.execute("UPDATE flows_tasks SET status = 'cancelled', closed_at = %s WHERE instance_id = %s"
                  " AND task_id = ANY(%s) AND status = 'open'", (e.timestamp, instance, reopened))
        w.execute("DELETE FROM flows_todo_inbox WHERE instance_id = %s AND task_id = ANY(%s)", (instance, reopened))
        for table in ("flows_tasks", "flows_todo_inbox", "flows_pauses"):
            w.execute(f"UPDATE {table} SET node = coalesce(%s::jsonb->>node, node) WHERE instance_id = %s",
                      (renames, instance))
        w.execute("UPDATE flows_instances SET definition_version = %s, visited = ARRAY(SELECT coalesce("
                  "%s::jsonb->>v, v) FROM unnest(visited) WITH ORDINALITY u(v, o) ORDER BY o) WHERE id = %s",
                  (e.to_version, renames, instance))
        self._tokens(w, e, "tokens || %s::jsonb", (json_text({m["token"]: m["to"] for m in e.moves}),))
        w.execute(board.ROLL_UP, (instance,))
        w.execute("SELECT data FROM flows_instance_data WHERE instance_id = %s", (instance,))
        row = w.fetchone()
        if row is not None:  # the new version's summary fields
            self._summarise(w, instance, row["data"])
        self._line(w, e, "migrated", comment=e.reason, detail={
            "from_version": e.from_version, "to_version": e.to_version, "by": e.by,
            "migration_id": str(e.migration_id), "moves": e.moves})
        self._touch(w, e, position)


ITEM = ("INSERT INTO flows_migration_items VALUES (%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s::jsonb, %s)"
        " ON CONFLICT DO NOTHING")
COUNTERS = {"safe": "safe", "unsafe": "unsafe", "migrated": "migrated", "conflict": "conflicts"}


class FlowMigrationsProjection(PostgresProjection):
    name = "flows.migrations"
    tables = ("flows_migrations", "flows_migration_items")
    schema = (
        "CREATE TABLE IF NOT EXISTS flows_migrations (id uuid PRIMARY KEY, definition_key text NOT NULL,"
        " business_line text NOT NULL, from_version int NOT NULL, to_version int NOT NULL, dry_run boolean NOT NULL,"
        " mapping jsonb NOT NULL, reason text NOT NULL, actor text NOT NULL, status text NOT NULL,"
        " safe int NOT NULL DEFAULT 0, unsafe int NOT NULL DEFAULT 0, migrated int NOT NULL DEFAULT 0,"
        " conflicts int NOT NULL DEFAULT 0, planned_at timestamptz NOT NULL, applied_at timestamptz,"
        " version int NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS flows_migrations_key ON flows_migrations"
        " (definition_key, planned_at DESC, id DESC)",
        "CREATE TABLE IF NOT EXISTS flows_migration_items (migration_id uuid NOT NULL, seq int NOT NULL,"
        " instance_id uuid NOT NULL, outcome text NOT NULL, reasons jsonb NOT NULL, moves jsonb NOT NULL,"
        " current_nodes text[] NOT NULL, current_nodes_after text[] NOT NULL, tasks_opened jsonb NOT NULL,"
        " instance_version int, PRIMARY KEY (migration_id, seq))",
        # Finding the running instances of a version (flows_instances is the flows.instances projection's,
        # created before this one).
        "CREATE INDEX IF NOT EXISTS flows_instances_running_version ON flows_instances"
        " (definition_key, definition_version, id) WHERE status = 'running'",
    )

    def _item(self, w: SqlWriter, e: IM.Planned | IM.InstanceMigrated, seq: int, item: dict[str, Any]) -> None:
        w.execute(ITEM, (e.originator_id, seq, item["instance_id"], item["outcome"], json_text(item["reasons"]),
                         json_text(item["moves"]), item["current_nodes"], item["current_nodes_after"],
                         json_text(item["tasks_opened"]), item.get("instance_version")))
        column = COUNTERS[item["outcome"]]
        w.execute(f"UPDATE flows_migrations SET {column} = {column} + 1 WHERE id = %s", (e.originator_id,))

    def _touch(self, w: SqlWriter, e: LedgerAggregate.Event, position: int) -> None:
        w.execute("UPDATE flows_migrations SET version = %s, position = %s WHERE id = %s",
                  (e.originator_version, position, e.originator_id))

    @handles(IM.Planned)
    def planned(self, w: SqlWriter, e: IM.Planned, position: int) -> None:
        w.execute("INSERT INTO flows_migrations (id, definition_key, business_line, from_version, to_version,"
                  " dry_run, mapping, reason, actor, status, planned_at, version, position)"
                  " VALUES (%s,%s,%s,%s,%s,%s,%s::jsonb,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.definition_key, e.business_line, e.from_version, e.to_version, e.dry_run,
                   json_text(e.mapping), e.reason, e.by, "dry_run" if e.dry_run else "applying", e.timestamp,
                   e.originator_version, position))
        for seq, item in enumerate(e.items):
            self._item(w, e, seq, item)

    @handles(IM.InstanceMigrated)
    def instance_migrated(self, w: SqlWriter, e: IM.InstanceMigrated, position: int) -> None:
        self._item(w, e, e.originator_version, {k: getattr(e, k) for k in (
            "instance_id", "outcome", "reasons", "moves", "current_nodes", "current_nodes_after", "tasks_opened",
            "instance_version")})
        self._touch(w, e, position)

    @handles(IM.Applied)
    def applied(self, w: SqlWriter, e: IM.Applied, position: int) -> None:
        w.execute("UPDATE flows_migrations SET status = 'applied', applied_at = %s WHERE id = %s",
                  (e.timestamp, e.originator_id))
        self._touch(w, e, position)


LINES = "(%(all_lines)s OR t.business_line = ANY(%(lines)s))"


class MigrationQueries:
    def __init__(self, db: Any):
        self.db = db

    def running(self, key: str, version: int, scope: dict[str, Any] | None, after: UUID | None,
                limit: int) -> list[UUID]:
        """Running instances of a version (in a data scope), by id: where a migration starts looking."""
        rows = self.db.fetch_all(
            "SELECT t.id FROM flows_instances t WHERE t.definition_key = %(key)s AND t.definition_version = %(v)s"
            " AND t.status = 'running'" + (f" AND {SCOPE}" if scope else "")
            + (" AND t.id > %(after)s" if after else "") + " ORDER BY t.id LIMIT %(limit)s",
            {**(scope or {}), "key": key, "v": version, "after": after, "limit": limit})
        return [r["id"] for r in rows]

    def migrations(self, key: str, scope: dict[str, Any], *, after: tuple[datetime, UUID] | None = None,
                   limit: int = 50) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT t.* FROM flows_migrations t WHERE t.definition_key = %(key)s AND " + LINES
            + (" AND (t.planned_at, t.id) < (%(a_at)s::timestamptz, %(a_id)s::uuid)" if after else "")
            + " ORDER BY t.planned_at DESC, t.id DESC LIMIT %(limit)s",
            {**scope, "key": key, "limit": limit, **(dict(zip(("a_at", "a_id"), after, strict=True)) if after else {})})

    def migration(self, migration_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM flows_migrations WHERE id = %s", (migration_id,))

    def items(self, migration_id: UUID, scope: dict[str, Any]) -> list[dict[str, Any]]:
        """The migration's instances that lie in the caller's scope, with their titles."""
        return self.db.fetch_all(
            "SELECT m.*, t.title FROM flows_migration_items m JOIN flows_instances t ON t.id = m.instance_id"
            " WHERE m.migration_id = %(id)s AND " + SCOPE + " ORDER BY m.seq", {**scope, "id": migration_id})
