"""What the monitoring board (流程看板) and the OA summaries need from the instance read model:
rolled-up columns on ``flows_instances`` (current handlers, overdue, urgent, earliest SLA due,
end time, summary fields, a keyword text), the node names and summary settings of every
published version, and the form data and per-edit changes behind the diff view.

The projection of instances keeps its own copy of each version's node names and
``summary_fields`` (from ``FlowDefinition.Published``) instead of reading the definitions read
model: one projection applies events in order, two projections do not."""
from __future__ import annotations

from typing import Any

MAX_SUMMARY_FIELDS = 5
# The standard scope predicate (Policy.scope_params) over a table aliased t.
SCOPE = ("(%(all_lines)s OR t.business_line = ANY(%(lines)s)) AND (%(all_departments)s"
         " OR t.department_id = ANY(%(departments)s) OR t.fund_account = ANY(%(accounts)s))")
# What the page of a running instance is filtered on, carried in the partial indexes below so a
# filter is checked in the index (an index-only scan finds the page's ids; the 50 rows are then
# read by primary key). Short, bounded values only: no title, summary, search text or handlers,
# whose size has no small bound and would make an index entry too large (a parked event).
RUNNING_FILTERS = ("business_line, department_id, fund_account, business_type, definition_key, definition_version,"
                   " initiator, overdue, urgent, current_nodes, started_at, updated_at, sla_due_at, ended_at")
DUE = "(coalesce(sla_due_at, 'infinity'::timestamptz))"
# The handler side table: one row per current handler (the elements of flows_instances.handlers),
# written in the ROLL_UP statement, truncated with the other tables on rebuild. A database made
# before it existed gets it filled from flows_instances when it is created (in the schema
# transaction, so no batch can write the table before it is complete).
HANDLERS_FILL = ("INSERT INTO flows_instance_handlers (handler, instance_id, started_at, sla_due_at)"
                 " SELECT DISTINCT x, i.id, i.started_at, i.sla_due_at FROM flows_instances i, unnest(i.handlers) x")
HANDLERS_TABLE = (
    "DO $$ BEGIN IF to_regclass('flows_instance_handlers') IS NULL THEN"
    " CREATE TABLE flows_instance_handlers (handler text NOT NULL, instance_id uuid NOT NULL,"
    " started_at timestamptz NOT NULL, sla_due_at timestamptz, PRIMARY KEY (instance_id, handler));"
    f" {HANDLERS_FILL}; END IF; END $$")
# Indexes serve the board's first page under its common filters: each leads with the equality
# filters an administrator narrows by, then the sort key and the id (the keyset tie-breaker).
# bench/monitor.py times them at 1M instances beside a primary-key lookup.
SCHEMA = (
    *(f"ALTER TABLE flows_instances ADD COLUMN IF NOT EXISTS {c}" for c in (
        "ended_at timestamptz", "handlers text[] NOT NULL DEFAULT '{}'", "overdue boolean NOT NULL DEFAULT false",
        "urgent boolean NOT NULL DEFAULT false", "sla_due_at timestamptz", "summary jsonb NOT NULL DEFAULT '{}'",
        "search text NOT NULL DEFAULT ''")),
    "CREATE INDEX IF NOT EXISTS flows_instances_started ON flows_instances (started_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS flows_instances_status_started ON flows_instances (status, started_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS flows_instances_status_updated ON flows_instances (status, updated_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS flows_instances_status_due ON flows_instances"
    " (status, (coalesce(sla_due_at, 'infinity'::timestamptz)), id)",
    "CREATE INDEX IF NOT EXISTS flows_instances_department ON flows_instances"
    " (department_id, status, started_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS flows_instances_type ON flows_instances"
    " (business_type, status, started_at DESC, id DESC)",
    # In-flight work (status 'running', ~12% of instances in the bench) by each sort, firm-wide and
    # per department (a branch monitor's scope); other filters are checked inside the index.
    "CREATE INDEX IF NOT EXISTS flows_instances_running_started ON flows_instances (started_at DESC, id DESC)"
    f" INCLUDE ({RUNNING_FILTERS}) WHERE status = 'running'",
    "CREATE INDEX IF NOT EXISTS flows_instances_running_updated ON flows_instances (updated_at DESC, id DESC)"
    f" INCLUDE ({RUNNING_FILTERS}) WHERE status = 'running'",
    f"CREATE INDEX IF NOT EXISTS flows_instances_running_due ON flows_instances ({DUE}, id)"
    f" INCLUDE ({RUNNING_FILTERS}) WHERE status = 'running'",
    "CREATE INDEX IF NOT EXISTS flows_instances_running_department ON flows_instances"
    f" (department_id, started_at DESC, id DESC) INCLUDE ({RUNNING_FILTERS}) WHERE status = 'running'",
    f"CREATE INDEX IF NOT EXISTS flows_instances_running_department_due ON flows_instances (department_id, {DUE}, id)"
    f" INCLUDE ({RUNNING_FILTERS}) WHERE status = 'running'",
    # The keyword (a substring of title, fund account and summary values): a trigram index finds a
    # rare one (a fund account, a company's name) without reading every instance. pg_trgm ships
    # with PostgreSQL (contrib; the embedded server has it) and is a trusted extension; where it
    # cannot be created the keyword still works, by reading the list's own order.
    "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; EXCEPTION WHEN OTHERS THEN"
    " RAISE NOTICE 'pg_trgm not available (%), the keyword filter runs without an index', SQLERRM; END $$",
    # Keywords are planned per call (monitor.py); a finer histogram of the text tells a common
    # fragment (walk the list's order) from a rare one (the trigram index) - at the default 100
    # entries a fragment in 1% of the rows was taken for a rare one one time in 16.
    "ALTER TABLE flows_instances ALTER COLUMN search SET STATISTICS 1000",
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_opclass WHERE opcname = 'gin_trgm_ops') THEN"
    " CREATE INDEX IF NOT EXISTS flows_instances_search ON flows_instances USING gin (search gin_trgm_ops);"
    " END IF; END $$",
    # Current handler: the side table's ordered indexes replace the GIN index on handlers.
    "DROP INDEX IF EXISTS flows_instances_handlers",
    HANDLERS_TABLE,
    "CREATE INDEX IF NOT EXISTS flows_instance_handlers_started ON flows_instance_handlers"
    " (handler, started_at DESC, instance_id DESC)",
    # (sla_due_at included: the sort expression alone does not make the scan index-only)
    "CREATE INDEX IF NOT EXISTS flows_instance_handlers_due ON flows_instance_handlers"
    " (handler, (coalesce(sla_due_at, 'infinity'::timestamptz)), instance_id) INCLUDE (sla_due_at)",
    "CREATE TABLE IF NOT EXISTS flows_version_facts (definition_key text NOT NULL, number int NOT NULL,"
    " names jsonb NOT NULL, summary_fields text[] NOT NULL DEFAULT '{}', PRIMARY KEY (definition_key, number))",
    "CREATE TABLE IF NOT EXISTS flows_definition_keys (id uuid PRIMARY KEY, key text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS flows_instance_data (instance_id uuid PRIMARY KEY, data jsonb NOT NULL)",
    "CREATE TABLE IF NOT EXISTS flows_instance_changes (instance_id uuid NOT NULL, version int NOT NULL,"
    " seq int NOT NULL, kind text NOT NULL, path text NOT NULL, old_value jsonb, new_value jsonb, node text,"
    " task_id text, actor text NOT NULL, occurred_at timestamptz NOT NULL, PRIMARY KEY (instance_id, version, seq))",
    # todo sorted by urgency then SLA due (the 'urgency' sort), and the done list.
    "CREATE INDEX IF NOT EXISTS flows_todo_inbox_due ON flows_todo_inbox"
    " (candidate, (NOT urgent), (coalesce(sla_due_at, 'infinity'::timestamptz)), instance_id, task_id)",
    "CREATE INDEX IF NOT EXISTS flows_tasks_decided ON flows_tasks USING gin (decided_by)",
)
TABLES = ("flows_instance_handlers", "flows_version_facts", "flows_definition_keys", "flows_instance_data",
          "flows_instance_changes")

# Re-derived from the tasks after every task change (the inbox holds the current handlers), and
# in the same statement the handler side table: rows of handlers gone are deleted, new ones
# inserted, the SLA due of the others refreshed (never a delete and re-insert of one key, which
# one statement cannot do).
ROLL_UP = (
    "WITH u AS (UPDATE flows_instances i SET"
    " handlers = ARRAY(SELECT DISTINCT x.candidate FROM flows_todo_inbox x WHERE x.instance_id = i.id ORDER BY 1),"
    " overdue = EXISTS(SELECT 1 FROM flows_tasks t WHERE t.instance_id = i.id AND t.status = 'open' AND t.overdue),"
    " urgent = EXISTS(SELECT 1 FROM flows_tasks t WHERE t.instance_id = i.id AND t.status = 'open' AND t.urgent),"
    " sla_due_at = (SELECT min(t.sla_due_at) FROM flows_tasks t WHERE t.instance_id = i.id AND t.status = 'open')"
    " WHERE i.id = %s RETURNING i.id, i.handlers, i.started_at, i.sla_due_at),"
    " gone AS (DELETE FROM flows_instance_handlers h USING u WHERE h.instance_id = u.id"
    " AND h.handler <> ALL(u.handlers))"
    " INSERT INTO flows_instance_handlers (handler, instance_id, started_at, sla_due_at)"
    " SELECT x, u.id, u.started_at, u.sla_due_at FROM u, unnest(u.handlers) x"
    " ON CONFLICT (instance_id, handler) DO UPDATE SET sla_due_at = excluded.sla_due_at"
    " WHERE flows_instance_handlers.sla_due_at IS DISTINCT FROM excluded.sla_due_at")

def summary_fields(settings: Any) -> list[str]:
    """The version's ``summary_fields`` setting, read defensively (validated at publish by the
    engine): up to five dotted paths into the form data."""
    raw = settings.get("summary_fields", []) if isinstance(settings, dict) else []
    if not isinstance(raw, list):
        return []
    return [p for p in raw if isinstance(p, str) and 0 < len(p) <= 128][:MAX_SUMMARY_FIELDS]


def node_names(graph: Any) -> dict[str, str]:
    """A published graph's node names by node id (the id where a node has no name), read
    defensively (validated at publish by the engine)."""
    nodes = graph.get("nodes", []) if isinstance(graph, dict) else []
    return {str(n["id"]): str(n.get("name") or n["id"]) for n in nodes if isinstance(n, dict) and "id" in n}


def value_at(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def summary_of(data: Any, paths: list[str]) -> dict[str, Any]:
    """Scalar values only: a summary is a line of text in a list, not a copy of a section."""
    out = {}
    for path in paths:
        value = value_at(data, path)
        if value is not None and not isinstance(value, (dict, list)):
            out[path] = value
    return out


def search_text(title: str, fund_account: str | None, summary: dict[str, Any]) -> str:
    """What the keyword filter matches (case-insensitively, as a substring)."""
    return " ".join([title, fund_account or "", *(str(v) for v in summary.values())]).lower()
