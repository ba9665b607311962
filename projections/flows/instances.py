"""Read models of flow instances: the instance list and detail (current nodes and handlers), the
todo/done lists (tasks with their candidates), the timeline, and the due pauses the scheduler
rebuilds its Redis queue from."""
from __future__ import annotations

from typing import Any

from domain.flows.definition import FlowDefinition
from domain.flows.instance import FlowInstance
from domain.forms.diff import diff
from projections.flows import board, calls, overrides
from projections.flows.migrations import MigratedHandler
from projections.framework import PostgresProjection, SqlWriter, handles, json_text

FI = FlowInstance



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

ADD_SIGNER = {position: f"UPDATE flows_tasks SET signers_{position} = array_append(signers_{position}, %s)"
                        " WHERE instance_id = %s AND task_id = %s" for position in ("before", "after")}


class FlowInstancesProjection(calls.CallsView, overrides.OverrideHandlers, MigratedHandler,  # ADR 0012
                              PostgresProjection):
    name = "flows.instances"
    tables = ("flows_instances", "flows_tasks", "flows_todo_inbox", "flows_timeline", "flows_pauses", "flows_cc",
              *board.TABLES, *calls.TABLES, *overrides.TABLES)
    schema = (
        "CREATE TABLE IF NOT EXISTS flows_instances (id uuid PRIMARY KEY, definition_key text NOT NULL,"
        " definition_version int NOT NULL, business_type text NOT NULL, title text NOT NULL, status text NOT NULL,"
        " business_line text NOT NULL, department_id uuid, fund_account text, initiator text NOT NULL,"
        " tokens jsonb NOT NULL DEFAULT '{}', current_nodes text[] NOT NULL DEFAULT '{}',"
        " visited text[] NOT NULL DEFAULT '{}',"
        " started_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, version int NOT NULL,"
        " position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS flows_instances_initiator ON flows_instances (initiator, started_at DESC)",
        "CREATE TABLE IF NOT EXISTS flows_tasks (instance_id uuid NOT NULL, task_id text NOT NULL, node text NOT NULL,"
        " mode text NOT NULL, status text NOT NULL, candidates text[] NOT NULL, decided_by text[] NOT NULL"
        " DEFAULT '{}', business_type text NOT NULL, business_line text NOT NULL, department_id uuid,"
        " fund_account text, initiator text NOT NULL, title text NOT NULL, urgent boolean NOT NULL DEFAULT false,"
        " opened_at timestamptz NOT NULL, closed_at timestamptz, sla_due_at timestamptz,"
        " overdue boolean NOT NULL DEFAULT false, signers_before text[] NOT NULL DEFAULT '{}',"
        " signers_after text[] NOT NULL DEFAULT '{}', after_phase boolean NOT NULL DEFAULT false,"
        " sla_warn_at timestamptz, sla_warned boolean NOT NULL DEFAULT false, PRIMARY KEY (instance_id, task_id))",

        "CREATE INDEX IF NOT EXISTS flows_tasks_sla ON flows_tasks (sla_due_at) WHERE status = 'open' AND NOT overdue",
        "CREATE INDEX IF NOT EXISTS flows_tasks_open ON flows_tasks USING gin (candidates) WHERE status = 'open'",
        "CREATE INDEX IF NOT EXISTS flows_tasks_opened ON flows_tasks (opened_at DESC, instance_id, task_id)",
        # The todo inbox: one row per (open task, candidate) with a covering index, so an operator's
        # first page is an index-only scan (bench/todo.py: p95 ≈ 2.3-2.6× a primary-key lookup at
        # 1M tasks, against 12-27× for the GIN search over flows_tasks).
        "CREATE TABLE IF NOT EXISTS flows_todo_inbox (candidate text NOT NULL, LIKE flows_tasks,"
        " current_nodes text[] NOT NULL DEFAULT '{}', PRIMARY KEY (instance_id, task_id, candidate))",
        "CREATE INDEX IF NOT EXISTS flows_todo_inbox_page ON flows_todo_inbox"
        " (candidate, opened_at DESC, instance_id DESC, task_id DESC) INCLUDE (node, mode, status, candidates,"
        " decided_by, business_type, business_line, department_id, fund_account, initiator, title, urgent,"
        " closed_at, current_nodes, sla_due_at, sla_warned, overdue)",
        # Index-only scans need a fresh visibility map: vacuum the inbox early and often.
        "ALTER TABLE flows_todo_inbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000,"
        " autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 2000)",
        "CREATE TABLE IF NOT EXISTS flows_timeline (instance_id uuid NOT NULL, seq int NOT NULL, kind text NOT NULL,"
        " node text, task_id text, actor text NOT NULL, comment text, detail jsonb, occurred_at timestamptz NOT NULL,"
        " PRIMARY KEY (instance_id, seq))",
        "CREATE TABLE IF NOT EXISTS flows_pauses (instance_id uuid NOT NULL, token text NOT NULL, node text NOT NULL,"
        " due_at timestamptz NOT NULL, PRIMARY KEY (instance_id, token))",
        "CREATE INDEX IF NOT EXISTS flows_pauses_due ON flows_pauses (due_at)",
        "CREATE TABLE IF NOT EXISTS flows_cc (instance_id uuid NOT NULL, recipient text NOT NULL, by text NOT NULL,"
        " note text, title text NOT NULL, business_line text NOT NULL, department_id uuid, fund_account text,"
        " copied_at timestamptz NOT NULL, PRIMARY KEY (instance_id, recipient, copied_at))",
        "CREATE INDEX IF NOT EXISTS flows_cc_recipient ON flows_cc (recipient, copied_at DESC)",
        # Databases made before 加签 was tracked (the inbox INSERT names its columns, so order is free).
        *(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {c}" for t in ("flows_tasks", "flows_todo_inbox") for c in (
            "signers_before text[] NOT NULL DEFAULT '{}'", "signers_after text[] NOT NULL DEFAULT '{}'",
            "after_phase boolean NOT NULL DEFAULT false", "sla_warn_at timestamptz",
            "sla_warned boolean NOT NULL DEFAULT false")),
        *board.SCHEMA,
        "ALTER TABLE flows_cc ADD COLUMN IF NOT EXISTS read_at timestamptz",  # 抄送已读
        *calls.SCHEMA,  # 父子流程
        *overrides.SCHEMA,  # 四眼原则
    )

    def _line(self, w: SqlWriter, e: Any, kind: str, *, node: str | None = None, task: str | None = None,
              comment: str | None = None, detail: Any = None) -> None:
        # Every entry about a task names its node too (from the task when the event does not).
        w.execute("INSERT INTO flows_timeline VALUES (%s, %s, %s, coalesce(%s, (SELECT node FROM flows_tasks"
                  " WHERE instance_id = %s AND task_id = %s)), %s, %s, %s, %s::jsonb, %s)",
                  (e.originator_id, e.originator_version, kind, node, e.originator_id, task, task, e.actor, comment,
                   json_text(detail) if detail is not None else None, e.timestamp))

    def _tokens(self, w: SqlWriter, e: Any, expression: str, params: tuple) -> None:
        """Update the token map (token -> node); current nodes are derived from it."""
        w.execute(f"UPDATE flows_instances SET tokens = {expression} WHERE id = %s", (*params, e.originator_id))
        w.execute("UPDATE flows_instances SET current_nodes = ARRAY(SELECT DISTINCT value FROM"
                  " jsonb_each_text(tokens) ORDER BY 1) WHERE id = %s", (e.originator_id,))
        w.execute("UPDATE flows_todo_inbox x SET current_nodes = i.current_nodes FROM flows_instances i"
                  " WHERE i.id = %s AND x.instance_id = i.id", (e.originator_id,))

    def _inbox(self, w: SqlWriter, e: Any, task: str) -> None:
        """Re-derive one task's inbox rows from flows_tasks: open tasks, one row per current handler."""
        w.execute("DELETE FROM flows_todo_inbox WHERE instance_id = %s AND task_id = %s", (e.originator_id, task))
        w.execute(INBOX_INSERT, (e.originator_id, task))
        w.execute(board.ROLL_UP, (e.originator_id,))

    def _seen(self, w: SqlWriter, e: Any, position: int) -> None:
        """Events that change no listed column still advance the row's version, so the row's
        version is the aggregate's whenever the read model has caught up with it."""
        w.execute("UPDATE flows_instances SET version = %s, position = %s WHERE id = %s",
                  (e.originator_version, position, e.originator_id))

    def _touch(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_instances SET updated_at = %s, version = %s, position = %s WHERE id = %s",
                  (e.timestamp, e.originator_version, position, e.originator_id))

    @handles(FI.Started)
    def started(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("INSERT INTO flows_instances (id, definition_key, definition_version, business_type, title, status,"
                  " business_line, department_id, fund_account, initiator, started_at, updated_at, version, position)"
                  " VALUES (%s,%s,%s,%s,%s,'running',%s,%s,%s,%s,%s,%s,%s,%s)",
                  (e.originator_id, e.definition_key, e.definition_version, e.business_type, e.title,
                   e.business_line, e.department_id, e.fund_account, e.initiator, e.timestamp, e.timestamp,
                   e.originator_version, position))
        w.execute("INSERT INTO flows_instance_data VALUES (%s, %s::jsonb) ON CONFLICT (instance_id) DO UPDATE"
                  " SET data = excluded.data", (e.originator_id, json_text(e.data)))
        self._summarise(w, e.originator_id, e.data)
        self._line(w, e, "started", comment=e.title)

    def _summarise(self, w: SqlWriter, instance_id: Any, data: Any) -> None:
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

    @handles(FlowDefinition.Created)
    def definition_created(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("INSERT INTO flows_definition_keys VALUES (%s, %s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.key))

    @handles(FlowDefinition.Published)
    def definition_published(self, w: SqlWriter, e: Any, position: int) -> None:
        nodes = (e.graph or {}).get("nodes", []) if isinstance(e.graph, dict) else []
        names = {str(n["id"]): str(n.get("name") or n["id"]) for n in nodes if isinstance(n, dict) and "id" in n}
        w.execute("INSERT INTO flows_version_facts SELECT key, %s, %s::jsonb, %s FROM flows_definition_keys"
                  " WHERE id = %s ON CONFLICT (definition_key, number) DO UPDATE SET names = excluded.names,"
                  " summary_fields = excluded.summary_fields",
                  (e.number, json_text(names), board.summary_fields(e.settings), e.originator_id))

    @handles(FI.NodeEntered)
    def entered(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_instances SET visited = array_append(visited, %s) WHERE id = %s",
                  (e.node, e.originator_id))
        self._tokens(w, e, "tokens || jsonb_build_object(%s::text, %s::text)", (e.token, e.node))
        self._touch(w, e, position)

    @handles(FI.TaskOpened)
    def task_opened(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("INSERT INTO flows_tasks (instance_id, task_id, node, mode, status, candidates, business_type,"
                  " business_line, department_id, fund_account, initiator, title, opened_at, sla_due_at, sla_warn_at)"
                  " SELECT id, %s, %s, %s, 'open', %s, business_type, business_line, department_id, fund_account,"
                  " initiator, title, %s, %s, %s FROM flows_instances WHERE id = %s",
                  (e.task, e.node, e.mode, e.candidates, e.timestamp, getattr(e, "sla_due_at", None),
                   getattr(e, "sla_warn_at", None), e.originator_id))
        self._inbox(w, e, e.task)
        self._line(w, e, "task_opened", node=e.node, task=e.task, detail={"candidates": e.candidates})
        self._touch(w, e, position)

    @handles(FI.TaskApproved, FI.TaskRejected)
    def decided(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET decided_by = array_append(decided_by, %s) WHERE instance_id = %s"
                  " AND task_id = %s", (e.by, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        kind = "approved" if isinstance(e, FI.TaskApproved) else "rejected"
        code = getattr(e, "reason_code", None)
        self._line(w, e, kind, node=e.node, task=e.task, comment=e.comment,
                   detail={"reason_code": code} if code else None)
        self._touch(w, e, position)

    @handles(FI.TaskClosed)
    def closed(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET status = %s, closed_at = %s WHERE instance_id = %s AND task_id = %s",
                  (e.outcome, e.timestamp, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._touch(w, e, position)

    @handles(FI.TaskDelegated)
    def delegated(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET candidates = array_replace(candidates, %s, %s) WHERE instance_id = %s"
                  " AND task_id = %s", (e.by, e.to, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "delegated", task=e.task, comment=e.comment, detail={"to": e.to})
        self._touch(w, e, position)

    @handles(FI.DelegationAnswered)
    def delegation_answered(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET candidates = array_replace(candidates, %s, (SELECT actor FROM flows_timeline"
                  " WHERE instance_id = %s AND task_id = %s AND kind = 'delegated' AND detail->>'to' = %s"
                  " ORDER BY seq DESC LIMIT 1)) WHERE instance_id = %s AND task_id = %s",
                  (e.by, e.originator_id, e.task, e.by, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "delegation_answered", task=e.task, comment=e.comment)
        self._touch(w, e, position)

    @handles(FI.SignerAdded)
    def signer_added(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute(ADD_SIGNER[e.position], (e.signer, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "signer_added", task=e.task, comment=e.comment,
                   detail={"signer": e.signer, "position": e.position})
        self._touch(w, e, position)

    @handles(FI.SignerApproved)
    def signer_approved(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET decided_by = array_append(decided_by, %s),"
                  " signers_before = CASE WHEN cardinality(signers_before) > 0 THEN signers_before[2:]"
                  " ELSE signers_before END,"
                  " signers_after = CASE WHEN cardinality(signers_before) = 0 THEN signers_after[2:]"
                  " ELSE signers_after END WHERE instance_id = %s AND task_id = %s",
                  (e.by, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "signer_approved", task=e.task, comment=e.comment)
        self._touch(w, e, position)

    @handles(FI.AfterSignersPending)
    def after_signers_pending(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET after_phase = true WHERE instance_id = %s AND task_id = %s",
                  (e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._touch(w, e, position)

    @handles(FI.TaskReassigned)
    def reassigned(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET candidates = %s WHERE instance_id = %s AND task_id = %s",
                  (e.candidates, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "reassigned", task=e.task, comment=e.reason, detail={"candidates": e.candidates})
        self._touch(w, e, position)

    @handles(FI.SlaWarned)
    def sla_warned(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET sla_warned = true, urgent = true WHERE instance_id = %s AND task_id = %s",
                  (e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "sla_warning", node=e.node, task=e.task, detail={"due_at": e.due_at})
        self._seen(w, e, position)

    @handles(FI.SlaBreached)
    def sla_breached(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET overdue = true, urgent = true WHERE instance_id = %s AND task_id = %s",
                  (e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "sla_breached", node=e.node, task=e.task, detail={"due_at": e.due_at})
        self._seen(w, e, position)

    @handles(FI.Urged)
    def urged(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET urgent = true WHERE instance_id = %s AND task_id = %s",
                  (e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "urged", task=e.task)
        self._seen(w, e, position)

    @handles(FI.CarbonCopied)
    def copied(self, w: SqlWriter, e: Any, position: int) -> None:
        for recipient in e.to:
            w.execute("INSERT INTO flows_cc SELECT id, %s, %s, %s, title, business_line, department_id, fund_account,"
                      " %s FROM flows_instances WHERE id = %s ON CONFLICT DO NOTHING",
                      (recipient, e.by, e.note, e.timestamp, e.originator_id))
        self._line(w, e, "cc", comment=e.note, detail={"to": e.to})
        self._seen(w, e, position)

    @handles(FI.TaskTransferred)
    def transferred(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET candidates = array_replace(candidates, %s, %s) WHERE instance_id = %s"
                  " AND task_id = %s", (e.by, e.to, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "transferred", task=e.task, comment=e.comment, detail={"to": e.to})
        self._touch(w, e, position)

    @handles(FI.Returned)
    def returned(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET status = CASE WHEN task_id = %s THEN 'returned' ELSE 'cancelled' END,"
                  " closed_at = %s WHERE instance_id = %s AND status = 'open'", (e.task, e.timestamp, e.originator_id))
        w.execute("DELETE FROM flows_pauses WHERE instance_id = %s", (e.originator_id,))
        w.execute("DELETE FROM flows_todo_inbox WHERE instance_id = %s", (e.originator_id,))
        w.execute("UPDATE flows_instances SET visited = array_append(visited, %s) WHERE id = %s",
                  (e.target, e.originator_id))
        self._tokens(w, e, "jsonb_build_object(%s::text, %s::text)", (e.token, e.target))
        w.execute(board.ROLL_UP, (e.originator_id,))
        # node = where the return was decided (as in the audit trail); the detail names both ends.
        self._line(w, e, "returned", node=e.node, task=e.task, comment=e.comment,
                   detail={"origin": e.node, "target": e.target,
                           **({"reason_code": e.reason_code} if getattr(e, "reason_code", None) else {})})
        self._touch(w, e, position)

    def _cancel_and_move(self, w: SqlWriter, e: Any, cancelled: list[str], token: str, node: str) -> None:
        """Take-back and jump: the listed open tasks are cancelled, one token stands at ``node``."""
        w.execute("UPDATE flows_tasks SET status = 'cancelled', closed_at = %s WHERE instance_id = %s"
                  " AND task_id = ANY(%s) AND status = 'open'", (e.timestamp, e.originator_id, list(cancelled)))
        w.execute("DELETE FROM flows_todo_inbox WHERE instance_id = %s AND task_id = ANY(%s)",
                  (e.originator_id, list(cancelled)))
        w.execute("DELETE FROM flows_pauses WHERE instance_id = %s", (e.originator_id,))
        w.execute("UPDATE flows_instances SET visited = array_append(visited, %s) WHERE id = %s",
                  (node, e.originator_id))
        self._tokens(w, e, "jsonb_build_object(%s::text, %s::text)", (token, node))
        w.execute(board.ROLL_UP, (e.originator_id,))

    @handles(FI.TaskTakenBack)
    def taken_back(self, w: SqlWriter, e: Any, position: int) -> None:
        self._cancel_and_move(w, e, e.cancelled, e.token, e.node)
        self._line(w, e, "taken_back", node=e.node, task=e.task, comment=e.comment or None,
                   detail={"cancelled": e.cancelled})
        self._touch(w, e, position)

    @handles(FI.SignerRemoved)
    def signer_removed(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute(f"UPDATE flows_tasks SET signers_{'before' if e.position == 'before' else 'after'} ="
                  f" array_remove(signers_{'before' if e.position == 'before' else 'after'}, %s)"
                  " WHERE instance_id = %s AND task_id = %s", (e.signer, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "signer_removed", task=e.task, comment=e.comment or None,
                   detail={"signer": e.signer, "position": e.position})
        self._touch(w, e, position)

    @handles(FI.Jumped)
    def jumped(self, w: SqlWriter, e: Any, position: int) -> None:
        self._cancel_and_move(w, e, e.cancelled, e.token, e.target)
        # node = the target (a jump may leave several nodes at once: detail.from lists them).
        self._line(w, e, "jumped", node=e.target, comment=e.reason,
                   detail={"from": e.from_nodes, "target": e.target, "by": e.by, "cancelled": e.cancelled})
        self._touch(w, e, position)

    @handles(FI.TaskClaimed)
    def claimed(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_tasks SET candidates = ARRAY[%s] WHERE instance_id = %s AND task_id = %s",
                  (e.by, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "claimed", node=e.node, task=e.task, detail={"pool": e.pool})
        self._touch(w, e, position)

    @handles(FI.CarbonCopyRead)
    def cc_read(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_cc SET read_at = %s WHERE instance_id = %s AND recipient = %s AND read_at IS NULL",
                  (e.timestamp, e.originator_id, e.by))
        self._line(w, e, "cc_read")
        self._seen(w, e, position)

    @handles(FI.PauseStarted)
    def pause_started(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("INSERT INTO flows_pauses VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.token, e.node, e.due_at))
        self._line(w, e, "paused", node=e.node, detail={"due_at": e.due_at})
        self._touch(w, e, position)

    @handles(FI.PauseEnded)
    def pause_ended(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("DELETE FROM flows_pauses WHERE instance_id = %s AND token = %s", (e.originator_id, e.token))
        self._line(w, e, "pause_ended", node=e.node, comment=e.reason or None,
                   detail={"early_by": e.early_by} if e.early_by else None)
        self._touch(w, e, position)

    @handles(FI.SystemTaskDone, FI.NodeSkipped, FI.TokenEnded)
    def passed_through(self, w: SqlWriter, e: Any, position: int) -> None:
        if isinstance(e, FI.TokenEnded):
            self._tokens(w, e, "tokens - %s::text", (e.token,))
        kinds = {FI.SystemTaskDone: "system_task", FI.NodeSkipped: "skipped", FI.TokenEnded: "ended"}
        self._line(w, e, kinds[type(e)], node=e.node, detail={"hook": e.hook} if hasattr(e, "hook") else None)
        self._touch(w, e, position)

    @handles(FI.BranchTaken)
    def branch(self, w: SqlWriter, e: Any, position: int) -> None:
        self._line(w, e, "branch_taken", node=e.gateway, detail={"targets": e.targets})
        self._seen(w, e, position)

    @handles(FI.Forked)
    def forked(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE flows_instances SET visited = visited || %s::text[] WHERE id = %s",
                  (list(e.children.values()), e.originator_id))
        self._tokens(w, e, "(tokens - %s::text) || %s::jsonb", (e.token, json_text(e.children)))
        self._seen(w, e, position)

    @handles(FI.ArrivedAtJoin)
    def arrived(self, w: SqlWriter, e: Any, position: int) -> None:
        self._seen(w, e, position)  # the token stays on the join node until the others arrive

    @handles(FI.Joined)
    def joined(self, w: SqlWriter, e: Any, position: int) -> None:
        self._tokens(w, e, "(tokens - %s::text[]) || jsonb_build_object(%s::text, %s::text)",
                     (e.tokens, e.token, e.node))
        self._seen(w, e, position)

    @handles(FI.Completed, FI.Finished)
    def finished(self, w: SqlWriter, e: Any, position: int) -> None:
        status = getattr(e, "status", "completed")
        w.execute("UPDATE flows_instances SET status = %s, tokens = '{}', current_nodes = '{}', ended_at = %s"
                  " WHERE id = %s", (status, e.timestamp, e.originator_id))
        w.execute("UPDATE flows_tasks SET status = 'cancelled', closed_at = %s WHERE instance_id = %s"
                  " AND status = 'open'", (e.timestamp, e.originator_id))
        w.execute("DELETE FROM flows_todo_inbox WHERE instance_id = %s", (e.originator_id,))
        w.execute("DELETE FROM flows_pauses WHERE instance_id = %s", (e.originator_id,))
        w.execute(board.ROLL_UP, (e.originator_id,))
        overrides.lapse_pending(w, e)
        self._line(w, e, status, comment=getattr(e, "reason", None))
        self._touch(w, e, position)

    @handles(FI.Chained)
    def chained(self, w: SqlWriter, e: Any, position: int) -> None:
        following = str(e.next_instance) if e.next_instance else None
        self._line(w, e, "chained", comment=e.problem, detail={"next_flow": e.next_flow, "next_instance": following})
        self._seen(w, e, position)

    @handles(FI.Remarked)
    def remarked(self, w: SqlWriter, e: Any, position: int) -> None:
        self._line(w, e, "remark", comment=e.text)
        self._seen(w, e, position)

    @handles(FI.Resubmitted)
    def resubmitted(self, w: SqlWriter, e: Any, position: int) -> None:
        self._line(w, e, "resubmitted")
        self._seen(w, e, position)

    @handles(FI.FormEdited)
    def form_edited(self, w: SqlWriter, e: Any, position: int) -> None:
        task = getattr(e, "task", None) or self._task_at(w, e)
        w.execute("SELECT data FROM flows_instance_data WHERE instance_id = %s", (e.originator_id,))
        row = w.fetchone()
        old = row["data"] if row else {}
        for seq, change in enumerate(diff(old, e.data)):
            w.execute("INSERT INTO flows_instance_changes VALUES (%s,%s,%s,%s,%s,%s::jsonb,%s::jsonb,%s,%s,%s,%s)"
                      " ON CONFLICT DO NOTHING",
                      (e.originator_id, e.originator_version, seq, change.kind, change.path, json_text(change.old),
                       json_text(change.new), e.node, task, e.actor, e.timestamp))
        w.execute("INSERT INTO flows_instance_data VALUES (%s, %s::jsonb) ON CONFLICT (instance_id) DO UPDATE"
                  " SET data = excluded.data", (e.originator_id, json_text(e.data)))
        self._summarise(w, e.originator_id, e.data)
        self._line(w, e, "form_edited", node=e.node, task=task,
                   detail={"patch": e.patch, "old_values": e.old_values})
        self._touch(w, e, position)

    def _task_at(self, w: SqlWriter, e: Any) -> str | None:
        """The task an edit was made at: the open task at its node, the editor's own first (none
        for a resubmission at the start node or an administrator's edit where no task is open)."""
        w.execute("SELECT task_id FROM flows_tasks WHERE instance_id = %s AND node = %s AND status = 'open'"
                  " ORDER BY (%s = ANY(candidates)) DESC, opened_at DESC LIMIT 1", (e.originator_id, e.node, e.actor))
        row = w.fetchone()
        return row["task_id"] if row else None
