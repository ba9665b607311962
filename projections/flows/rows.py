"""What every handler of the flow instance read model (projections/flows/instances.py) writes
besides its own rows: the timeline entry, the token map and the current nodes derived from it, a
task's rows in the todo inbox, the OA summary, and the row's version (``_touch`` when the event
changes what lists show, ``_seen`` when it changes nothing listed: either way the row's version is
the aggregate's once the read model has caught up with it)."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.shared.aggregate import LedgerAggregate
from projections.flows import board
from projections.framework import SqlWriter, json_text

TASK_COLUMNS = ("instance_id, task_id, node, mode, status, candidates, decided_by, business_type, business_line,"
                " department_id, fund_account, initiator, title, urgent, opened_at, closed_at, sla_due_at, overdue,"
                " signers_before, signers_after, after_phase, sla_warn_at, sla_warned")
# Who holds an open task now (当前处理人), as FlowInstance.current_handlers decides it: a signer
# added before comes first, one added after once the node's rule is met; else the candidates
# who have not decided yet (sequential: only the next in line).
CURRENT_HANDLERS = (
    "CASE WHEN cardinality(t.signers_before) > 0 THEN t.signers_before[1:1]"
    " WHEN t.after_phase THEN t.signers_after[1:1]"
    " WHEN t.mode = 'sequential' THEN ARRAY(SELECT x FROM unnest(t.candidates) WITH ORDINALITY u(x, o)"
    "   WHERE x <> ALL(t.decided_by) ORDER BY o LIMIT 1)"
    " ELSE ARRAY(SELECT x FROM unnest(t.candidates) x WHERE x <> ALL(t.decided_by)) END")
INBOX_INSERT = (
    f"INSERT INTO flows_todo_inbox (candidate, {TASK_COLUMNS}, current_nodes)"
    f" SELECT c, {', '.join('t.' + col.strip() for col in TASK_COLUMNS.split(','))}, i.current_nodes"
    f" FROM flows_tasks t JOIN flows_instances i ON i.id = t.instance_id, unnest({CURRENT_HANDLERS}) c"
    " WHERE t.instance_id = %s AND t.task_id = %s AND t.status = 'open'")


class InstanceRows:
    """The base of FlowInstancesProjection and of the handler groups mixed into it."""

    def _line(self, w: SqlWriter, e: LedgerAggregate.Event, kind: str, *, node: str | None = None,
              task: str | None = None, comment: str | None = None, detail: Any = None) -> None:
        # Every entry about a task names its node too (from the task when the event does not).
        # ``via``: the client a person acted through (delegated access, ADR 0016), else null.
        w.execute("INSERT INTO flows_timeline (instance_id, seq, kind, node, task_id, actor, comment, detail,"
                  " occurred_at, via) VALUES (%s, %s, %s, coalesce(%s, (SELECT node FROM flows_tasks"
                  " WHERE instance_id = %s AND task_id = %s)), %s, %s, %s, %s::jsonb, %s, %s)",
                  (e.originator_id, e.originator_version, kind, node, e.originator_id, task, task, e.actor, comment,
                   json_text(detail) if detail is not None else None, e.timestamp, getattr(e, "via", None)))

    def _tokens(self, w: SqlWriter, e: LedgerAggregate.Event, expression: str, params: tuple[Any, ...]) -> None:
        """Update the token map (token -> node); current nodes are derived from it."""
        w.execute(f"UPDATE flows_instances SET tokens = {expression} WHERE id = %s", (*params, e.originator_id))
        w.execute("UPDATE flows_instances SET current_nodes = ARRAY(SELECT DISTINCT value FROM"
                  " jsonb_each_text(tokens) ORDER BY 1) WHERE id = %s", (e.originator_id,))
        w.execute("UPDATE flows_todo_inbox x SET current_nodes = i.current_nodes FROM flows_instances i"
                  " WHERE i.id = %s AND x.instance_id = i.id", (e.originator_id,))

    def _inbox(self, w: SqlWriter, e: LedgerAggregate.Event, task: str) -> None:
        """Re-derive one task's inbox rows from flows_tasks: open tasks, one row per current handler."""
        w.execute("DELETE FROM flows_todo_inbox WHERE instance_id = %s AND task_id = %s", (e.originator_id, task))
        w.execute(INBOX_INSERT, (e.originator_id, task))
        w.execute(board.ROLL_UP, (e.originator_id,))

    def _seen(self, w: SqlWriter, e: LedgerAggregate.Event, position: int) -> None:
        """Events that change no listed column still advance the row's version, so the row's
        version is the aggregate's whenever the read model has caught up with it."""
        w.execute("UPDATE flows_instances SET version = %s, position = %s WHERE id = %s",
                  (e.originator_version, position, e.originator_id))

    def _touch(self, w: SqlWriter, e: LedgerAggregate.Event, position: int) -> None:
        w.execute("UPDATE flows_instances SET updated_at = %s, version = %s, position = %s WHERE id = %s",
                  (e.timestamp, e.originator_version, position, e.originator_id))

    def _summarise(self, w: SqlWriter, instance_id: UUID, data: dict[str, Any]) -> None:
        """The OA summary (摘要): the version's summary_fields read from the form data."""
        w.execute("SELECT i.title, i.fund_account, v.summary_fields FROM flows_instances i LEFT JOIN"
                  " flows_version_facts v ON v.definition_key = i.definition_key AND v.number = i.definition_version"
                  " WHERE i.id = %s", (instance_id,))
        row = w.fetchone()
        if row is None:
            return
        summary = board.summary_of(data, list(row["summary_fields"] or []))
        w.execute("UPDATE flows_instances SET summary = %s::jsonb, search = %s WHERE id = %s",
                  (json_text(summary), board.search_text(row["title"], row["fund_account"], summary), instance_id))
