"""Queries of the monitoring board (流程监控 / 流程看板): instances in the caller's lines and data
scope under any mix of filters, keyset-paged by start, last update or SLA due; counts per
current node and per department; the rows of the CSV export; the diff view of form edits.

Filters are added to the SQL only when given, so the planner sees the real predicate and can
walk the index that leads with it (projections/flows/board.py) instead of a catch-all plan."""
from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict
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
# The handler filter walks flows_instance_handlers (one row per current handler, board.py), whose
# started_at and sla_due_at are the instance's own: the same order, read from the side index.
HANDLER_SORT_KEY = {"started": "h.started_at", "sla_due": "coalesce(h.sla_due_at, 'infinity'::timestamptz)"}
HANDLER_SORTS = {"started": "h.started_at DESC, h.instance_id DESC",
                 "sla_due": "coalesce(h.sla_due_at, 'infinity'::timestamptz) ASC, h.instance_id ASC"}
# Statuses the API accepts (BoardFilters.status). A status from this set is written into the SQL
# as a literal, the only value that is: the statement stays one prepared statement per status and
# filter set whose generic plan can use the partial indexes on running instances (board.py).
STATUSES = ("running", "completed", "rejected", "withdrawn", "terminated")
FILTERS = {
    "status": "t.status = %(status)s",
    "business_type": "t.business_type = %(business_type)s",
    "definition": "t.definition_key = %(definition)s",
    "version": "t.definition_version = %(version)s",
    "node": "t.current_nodes @> ARRAY[%(node)s]::text[]",
    "department": "t.department_id = %(department)s",
    "initiator": "t.initiator = %(initiator)s",
    # handlers @> ARRAY[h] <=> a side-table row (h, id): the side table is unnest(handlers).
    "handler": "EXISTS (SELECT 1 FROM flows_instance_handlers x WHERE x.instance_id = t.id"
               " AND x.handler = %(handler)s)",
    "overdue": "t.overdue = %(overdue)s",
    "urgent": "t.urgent = %(urgent)s",
    "started_from": "t.started_at >= %(started_from)s",
    "started_to": "t.started_at < %(started_to)s",
    "ended_from": "t.ended_at >= %(ended_from)s",
    "ended_to": "t.ended_at < %(ended_to)s",
    # A substring, as strpos(t.search, lower(keyword)) > 0, written as LIKE (\\ % _ escaped) so the
    # trigram index (board.py) can serve it.
    "keyword": "t.search LIKE '%%' || replace(replace(replace(lower(%(keyword)s), '\\', '\\\\'), '%%', '\\%%'),"
               " '_', '\\_') || '%%'",
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


def where(scope: dict[str, Any], filters: dict[str, Any], *, skip: tuple[str, ...] = ()) -> tuple[str, dict[str, Any]]:
    active = {k: v for k, v in filters.items() if k in FILTERS and v is not None and k not in skip}
    status = active.get("status")
    clauses = [f"t.status = '{status}'" if k == "status" and status in STATUSES else FILTERS[k] for k in active]
    if status in STATUSES:
        del active["status"]
    sql = " WHERE " + " AND ".join(["true", *scope_sql(scope), *clauses])
    department_1 = scope["departments"][0] if len(scope["departments"]) == 1 else None
    return sql, {**scope, **active, "department_1": department_1}


class Board(TypedDict):
    """Counts per current node and per department, and over all (count, overdue, urgent)."""
    by_node: list[dict[str, Any]]
    by_department: list[dict[str, Any]]
    total: dict[str, Any]


class MonitorQueries:
    def __init__(self, db: Any):
        self.db = db

    def instances(self, scope: dict[str, Any], filters: dict[str, Any], *, sort: str = "started",
                  after: tuple[datetime | None, UUID] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """One page in two steps: the ids of the page first, read from an index alone where one
        covers the filters (board.py: partial covering indexes on running instances, the
        handler side table), then the 50 rows by primary key, their node names added.

        The LIMIT is an integer literal and a known status one too, so each filter set is one
        prepared statement whose generic plan (no planning per call) can use the partial indexes."""
        order, cmp = SORTS[sort]
        keyset = (" AND ({key}, {id}) {cmp} (coalesce(%(a_at)s::timestamptz, 'infinity'::timestamptz),"
                  " %(a_id)s::uuid)")
        by_handler = filters.get("handler") is not None and sort in HANDLER_SORTS
        sql, params = where(scope, filters, skip=("handler",) if by_handler else ())
        if by_handler:
            page = ("SELECT h.instance_id AS id FROM flows_instance_handlers h JOIN flows_instances t"
                    f" ON t.id = h.instance_id{sql} AND h.handler = %(handler)s"
                    + (keyset.format(key=HANDLER_SORT_KEY[sort], id="h.instance_id", cmp=cmp) if after else "")
                    + f" ORDER BY {HANDLER_SORTS[sort]} LIMIT {int(limit)}")
            params["handler"] = filters["handler"]
        else:
            page = (f"SELECT t.id FROM flows_instances t{sql}"
                    + (keyset.format(key=SORT_KEY[sort], id="t.id", cmp=cmp) if after else "")
                    + f" ORDER BY {order} LIMIT {int(limit)}")
        if after is not None:
            params.update(a_at=after[0], a_id=after[1])
        # A keyword is planned per call: a rare one is found by the trigram index, a common one by
        # walking the sort order; one generic plan would be wrong for one of them.
        unprepared = {"prepare": False} if filters.get("keyword") is not None else {}
        return self.db.fetch_all(
            f"SELECT {COLUMNS}, {NODE_NAMES} FROM ({page}) p JOIN flows_instances t ON t.id = p.id{VERSION_JOIN}"
            f" ORDER BY {order}", params, **unprepared)

    def board(self, scope: dict[str, Any], filters: dict[str, Any]) -> Board:
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
