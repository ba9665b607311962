"""Read model: flow definitions and their published versions."""
from __future__ import annotations

from typing import Any

import orjson

from domain.flows.definition import FlowDefinition
from projections.framework import PostgresProjection, SqlWriter, handles


class FlowDefinitionsProjection(PostgresProjection):
    name = "flows.definitions"
    tables = ("flows_definitions", "flows_definition_versions")
    schema = (
        "CREATE TABLE IF NOT EXISTS flows_definitions (id uuid PRIMARY KEY, key text UNIQUE NOT NULL,"
        " name text NOT NULL, business_type text NOT NULL, business_line text NOT NULL, description text NOT NULL,"
        " draft jsonb, settings jsonb NOT NULL, latest_version int NOT NULL DEFAULT 0, version int NOT NULL,"
        " updated_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS flows_definition_versions (definition_id uuid NOT NULL, number int NOT NULL,"
        " graph jsonb NOT NULL, settings jsonb NOT NULL, published_at timestamptz NOT NULL,"
        " published_by text NOT NULL, PRIMARY KEY (definition_id, number))",
    )

    @handles(FlowDefinition.Created)
    def created(self, w: SqlWriter, e: FlowDefinition.Created, position: int) -> None:
        w.execute("INSERT INTO flows_definitions (id, key, name, business_type, business_line, description, settings,"
                  " version, updated_at, position) VALUES (%s,%s,%s,%s,%s,%s,%s::jsonb,%s,%s,%s)",
                  (e.originator_id, e.key, e.name, e.business_type, e.business_line, e.description,
                   orjson.dumps({"deduplication": "none", "empty_assignee": "to_admin"}).decode(),
                   e.originator_version, e.timestamp, position))

    @handles(FlowDefinition.DraftSaved)
    def draft(self, w: SqlWriter, e: FlowDefinition.DraftSaved, position: int) -> None:
        w.execute("UPDATE flows_definitions SET draft = %s::jsonb, settings = %s::jsonb, version = %s,"
                  " updated_at = %s, position = %s WHERE id = %s",
                  (orjson.dumps(e.graph).decode(), orjson.dumps(e.settings).decode(), e.originator_version,
                   e.timestamp, position, e.originator_id))

    @handles(FlowDefinition.Published)
    def published(self, w: SqlWriter, e: FlowDefinition.Published, position: int) -> None:
        w.execute("INSERT INTO flows_definition_versions VALUES (%s,%s,%s::jsonb,%s::jsonb,%s,%s)",
                  (e.originator_id, e.number, orjson.dumps(e.graph).decode(), orjson.dumps(e.settings).decode(),
                   e.timestamp, e.actor))
        w.execute("UPDATE flows_definitions SET latest_version = %s, version = %s, updated_at = %s, position = %s"
                  " WHERE id = %s", (e.number, e.originator_version, e.timestamp, position, e.originator_id))


class FlowQueries:
    def __init__(self, db: Any):
        self.db = db

    def definitions(self, scope: dict[str, Any], *, after: str | None = None, limit: int | None = None
                    ) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT id, key, name, business_type, business_line, description, latest_version, version, updated_at"
            " FROM flows_definitions WHERE (%(all_lines)s OR business_line = ANY(%(lines)s))"
            " AND (%(after)s::text IS NULL OR key > %(after)s) ORDER BY key LIMIT %(limit)s",
            {**scope, "after": after, "limit": limit})

    def definition(self, key: str) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM flows_definitions WHERE key = %s", (key,))

    def versions(self, definition_id: Any) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT number, published_at, published_by FROM flows_definition_versions"
                                 " WHERE definition_id = %s ORDER BY number", (definition_id,))

    def reason_codes(self, keys: list[str]) -> dict[tuple[str, int], dict[str, bool]]:
        """The reason codes of every published version of these definitions: {code: counted}."""
        rows = self.db.fetch_all(
            "SELECT d.key, v.number, v.settings->'reason_codes' AS codes FROM flows_definition_versions v"
            " JOIN flows_definitions d ON d.id = v.definition_id WHERE d.key = ANY(%s)", (keys,))
        return {(r["key"], r["number"]): {c["code"]: bool(c.get("counted", True)) for c in r["codes"] or []}
                for r in rows}
