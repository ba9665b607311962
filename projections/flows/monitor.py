"""Queries of the monitoring board (流程监控 / 流程看板): instances in the caller's lines and data
scope under any mix of filters, keyset-paged by start, last update or SLA due; counts per
current node and per department; the rows of the CSV export; the diff view of form edits.

Filters are added to the SQL only when given, so the planner sees the real predicate and can
walk the index that leads with it (projections/flows/board.py) instead of a catch-all plan."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

COLUMNS = ", ".join(f"t.{c}" for c in (
    "id", "definition_key", "definition_version", "business_type", "title", "status", "business_line",
    "department_id", "fund_account", "initiator", "current_nodes", "handlers", "overdue", "urgent", "sla_due_at",
    "summary", "started_at", "updated_at", "ended_at", "version"))
# Node names of the instance's pinned version, in the order of current_nodes.
NODE_NAMES = ("ARRAY(SELECT coalesce(v.names->>n, n) FROM unnest(t.current_nodes) WITH ORDINALITY u(n, o)"
              " ORDER BY o) AS current_node_names")
VERSION_JOIN = (" LEFT JOIN flows_version_facts v ON v.definition_key = t.definition_key"
                " AND v.number = t.definition_version")
SORT_KEY = {"started": "t.started_at", "updated": "t.updated_at",
            "sla_due": "coalesce(t.sla_due_at, 'infinity'::timestamptz)"}
SORTS = {"started": ("t.started_at DESC, t.id DESC", "<"), "updated": ("t.updated_at DESC, t.id DESC", "<"),
         "sla_due": ("coalesce(t.sla_due_at, 'infinity'::timestamptz) ASC, t.id ASC", ">")}
FILTERS = {
    "status": "t.status = %(status)s",
    "business_type": "t.business_type = %(business_type)s",
    "definition": "t.definition_key = %(definition)s",
    "version": "t.definition_version = %(version)s",
    "node": "t.current_nodes @> ARRAY[%(node)s]::text[]",
    "department": "t.department_id = %(department)s",
    "initiator": "t.initiator = %(initiator)s",
    "handler": "t.handlers @> ARRAY[%(handler)s]::text[]",
    "overdue": "t.overdue = %(overdue)s",
    "urgent": "t.urgent = %(urgent)s",
    "started_from": "t.started_at >= %(started_from)s",
    "started_to": "t.started_at < %(started_to)s",
    "ended_from": "t.ended_at >= %(ended_from)s",
    "ended_to": "t.ended_at < %(ended_to)s",
    "keyword": "strpos(t.search, lower(%(keyword)s)) > 0",
}


def scope_sql(scope: dict[str, Any]) -> list[str]:
    """Policy.scope_params as only the predicates that narrow, so a branch monitor's query can
    walk the (department_id, status, ...) index: one department is an equality, not ANY()."""
    out = []
    if not scope["all_lines"]:
        out.append("t.business_line = ANY(%(lines)s)")
    if not scope["all_departments"]:
        departments = ("t.department_id = %(department_1)s" if len(scope["departments"]) == 1
                       else "t.department_id = ANY(%(departments)s)")
        out.append(f"({departments} OR t.fund_account = ANY(%(accounts)s))" if scope["accounts"] else departments)
    return out


def where(scope: dict[str, Any], filters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    active = {k: v for k, v in filters.items() if k in FILTERS and v is not None}
    sql = " WHERE " + " AND ".join(["true", *scope_sql(scope), *(FILTERS[k] for k in active)])
    department_1 = scope["departments"][0] if len(scope["departments"]) == 1 else None
    return sql, {**scope, **active, "department_1": department_1}


class MonitorQueries:
    def __init__(self, db: Any):
        self.db = db

    def instances(self, scope: dict[str, Any], filters: dict[str, Any], *, sort: str = "started",
                  after: tuple[datetime | None, UUID] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        order, cmp = SORTS[sort]
        sql, params = where(scope, filters)
        if after is not None:
            sql += (f" AND ({SORT_KEY[sort]}, t.id) {cmp}"
                    " (coalesce(%(a_at)s::timestamptz, 'infinity'::timestamptz), %(a_id)s::uuid)")
            params.update(a_at=after[0], a_id=after[1])
        # Page first (an index walk), then name the nodes of the 50 rows found.
        return self.db.fetch_all(
            f"SELECT t.*, {NODE_NAMES} FROM (SELECT {COLUMNS} FROM flows_instances t{sql}"
            f" ORDER BY {order} LIMIT %(limit)s) t{VERSION_JOIN} ORDER BY {order}", {**params, "limit": limit})

    def board(self, scope: dict[str, Any], filters: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """004 §7.1: in-flight work per current node and per department, with the overdue share."""
        sql, params = where(scope, filters)
        by_node = self.db.fetch_all(
            "SELECT g.definition_key, g.node, coalesce((SELECT v.names->>g.node FROM flows_version_facts v"
            " WHERE v.definition_key = g.definition_key ORDER BY v.number DESC LIMIT 1), g.node) AS node_name,"
            " g.count, g.overdue, g.urgent FROM (SELECT t.definition_key, n AS node, count(*) AS count,"
            " count(*) FILTER (WHERE t.overdue) AS overdue, count(*) FILTER (WHERE t.urgent) AS urgent"
            f" FROM flows_instances t CROSS JOIN unnest(t.current_nodes) n{sql} GROUP BY 1, 2) g"
            " ORDER BY g.definition_key, g.node", params)
        by_department = self.db.fetch_all(
            "SELECT g.department_id, d.name AS department_name, g.count, g.overdue, g.urgent FROM"
            " (SELECT t.department_id, count(*) AS count, count(*) FILTER (WHERE t.overdue) AS overdue,"
            f" count(*) FILTER (WHERE t.urgent) AS urgent FROM flows_instances t{sql} GROUP BY 1) g"
            " LEFT JOIN access_departments d ON d.id = g.department_id ORDER BY d.name NULLS LAST, g.department_id",
            params)
        total = self.db.fetch_one(
            "SELECT count(*) AS count, count(*) FILTER (WHERE t.overdue) AS overdue,"
            f" count(*) FILTER (WHERE t.urgent) AS urgent FROM flows_instances t{sql}", params)
        return {"by_node": by_node, "by_department": by_department, "total": total or {}}

    def changes(self, instance_id: UUID, *, after: tuple[int, int] | None = None,
                limit: int = 200) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT version, seq, kind, path, old_value, new_value, node, task_id, actor, occurred_at"
            " FROM flows_instance_changes WHERE instance_id = %(id)s"
            " AND (%(a_v)s::int IS NULL OR (version, seq) > (%(a_v)s, %(a_s)s::int))"
            " ORDER BY version, seq LIMIT %(limit)s",
            {"id": instance_id, "a_v": after[0] if after else None, "a_s": after[1] if after else None,
             "limit": limit})
