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
# Indexes serve the board's first page under its common filters: each leads with the equality
# filters an administrator narrows by, then the sort key and the id (the keyset tie-breaker).
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
    "CREATE INDEX IF NOT EXISTS flows_instances_handlers ON flows_instances USING gin (handlers)",
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
TABLES = ("flows_version_facts", "flows_definition_keys", "flows_instance_data", "flows_instance_changes")

# Re-derived from the tasks after every task change (the inbox holds the current handlers).
ROLL_UP = (
    "UPDATE flows_instances i SET"
    " handlers = ARRAY(SELECT DISTINCT x.candidate FROM flows_todo_inbox x WHERE x.instance_id = i.id ORDER BY 1),"
    " overdue = EXISTS(SELECT 1 FROM flows_tasks t WHERE t.instance_id = i.id AND t.status = 'open' AND t.overdue),"
    " urgent = EXISTS(SELECT 1 FROM flows_tasks t WHERE t.instance_id = i.id AND t.status = 'open' AND t.urgent),"
    " sla_due_at = (SELECT min(t.sla_due_at) FROM flows_tasks t WHERE t.instance_id = i.id AND t.status = 'open')"
    " WHERE i.id = %s")


def summary_fields(settings: Any) -> list[str]:
    """The version's ``summary_fields`` setting, read defensively (validated at publish by the
    engine): up to five dotted paths into the form data."""
    raw = settings.get("summary_fields", []) if isinstance(settings, dict) else []
    if not isinstance(raw, list):
        return []
    return [p for p in raw if isinstance(p, str) and 0 < len(p) <= 128][:MAX_SUMMARY_FIELDS]


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
