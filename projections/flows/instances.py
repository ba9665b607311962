"""Read models of flow instances: the instance list and detail (current nodes and handlers), the
todo/done lists (tasks with their candidates: projections/flows/tasks.py), the timeline, and the
due pauses the scheduler rebuilds its Redis queue from."""
from __future__ import annotations

from domain.flows.definition import FlowDefinition
from domain.flows.instance import FlowInstance
from domain.forms.diff import diff
from projections.flows import board, calls, overrides, rules, system_tasks, timeouts
from projections.flows.migrations import MigratedHandler
from projections.flows.tasks import TaskHandlers
from projections.framework import PostgresProjection, SqlWriter, handles, json_text

FI = FlowInstance


class FlowInstancesProjection(calls.CallsView, overrides.OverrideHandlers, MigratedHandler,  # ADR 0012
                              TaskHandlers, timeouts.TimeoutHandlers, rules.RuleHandlers,
                              system_tasks.SystemTaskHandlers, PostgresProjection):
    name = "flows.instances"
    tables = ("flows_instances", "flows_tasks", "flows_todo_inbox", "flows_timeline", "flows_pauses", "flows_cc",
              *board.TABLES, *calls.TABLES, *overrides.TABLES, *rules.TABLES, *system_tasks.TABLES)
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
        "ALTER TABLE flows_timeline ADD COLUMN IF NOT EXISTS via text",  # delegated access (ADR 0016)
        *calls.SCHEMA,  # 父子流程
        *overrides.SCHEMA,  # 四眼原则
        *timeouts.SCHEMA,  # 超时处理
        *rules.SCHEMA,  # IF-THEN rules
        *system_tasks.SCHEMA,  # system work handed to hooks (issue 16)
    )

    @handles(FI.Started)
    def started(self, w: SqlWriter, e: FI.Started, position: int) -> None:
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

    @handles(FlowDefinition.Created)
    def definition_created(self, w: SqlWriter, e: FlowDefinition.Created, position: int) -> None:
        w.execute("INSERT INTO flows_definition_keys VALUES (%s, %s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.key))

    @handles(FlowDefinition.Published)
    def definition_published(self, w: SqlWriter, e: FlowDefinition.Published, position: int) -> None:
        nodes = (e.graph or {}).get("nodes", []) if isinstance(e.graph, dict) else []
        names = {str(n["id"]): str(n.get("name") or n["id"]) for n in nodes if isinstance(n, dict) and "id" in n}
        w.execute("INSERT INTO flows_version_facts SELECT key, %s, %s::jsonb, %s FROM flows_definition_keys"
                  " WHERE id = %s ON CONFLICT (definition_key, number) DO UPDATE SET names = excluded.names,"
                  " summary_fields = excluded.summary_fields",
                  (e.number, json_text(names), board.summary_fields(e.settings), e.originator_id))

    @handles(FI.NodeEntered)
    def entered(self, w: SqlWriter, e: FI.NodeEntered, position: int) -> None:
        w.execute("UPDATE flows_instances SET visited = array_append(visited, %s) WHERE id = %s",
                  (e.node, e.originator_id))
        self._tokens(w, e, "tokens || jsonb_build_object(%s::text, %s::text)", (e.token, e.node))
        self._touch(w, e, position)

    @handles(FI.CarbonCopied)
    def copied(self, w: SqlWriter, e: FI.CarbonCopied, position: int) -> None:
        for recipient in e.to:
            w.execute("INSERT INTO flows_cc SELECT id, %s, %s, %s, title, business_line, department_id, fund_account,"
                      " %s FROM flows_instances WHERE id = %s ON CONFLICT DO NOTHING",
                      (recipient, e.by, e.note, e.timestamp, e.originator_id))
        self._line(w, e, "cc", comment=e.note, detail={"to": e.to})
        self._seen(w, e, position)

    @handles(FI.CarbonCopyRead)
    def cc_read(self, w: SqlWriter, e: FI.CarbonCopyRead, position: int) -> None:
        w.execute("UPDATE flows_cc SET read_at = %s WHERE instance_id = %s AND recipient = %s AND read_at IS NULL",
                  (e.timestamp, e.originator_id, e.by))
        self._line(w, e, "cc_read")
        self._seen(w, e, position)

    @handles(FI.PauseStarted)
    def pause_started(self, w: SqlWriter, e: FI.PauseStarted, position: int) -> None:
        w.execute("INSERT INTO flows_pauses VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.token, e.node, e.due_at))
        self._line(w, e, "paused", node=e.node, detail={"due_at": e.due_at})
        self._touch(w, e, position)

    @handles(FI.PauseEnded)
    def pause_ended(self, w: SqlWriter, e: FI.PauseEnded, position: int) -> None:
        w.execute("DELETE FROM flows_pauses WHERE instance_id = %s AND token = %s", (e.originator_id, e.token))
        self._line(w, e, "pause_ended", node=e.node, comment=e.reason or None,
                   detail={"early_by": e.early_by} if e.early_by else None)
        self._touch(w, e, position)

    @handles(FI.SystemTaskDone, FI.NodeSkipped, FI.TokenEnded)
    def passed_through(self, w: SqlWriter, e: FI.SystemTaskDone | FI.NodeSkipped | FI.TokenEnded,
                       position: int) -> None:
        if isinstance(e, FI.TokenEnded):
            self._tokens(w, e, "tokens - %s::text", (e.token,))
        kinds = {FI.SystemTaskDone: "system_task", FI.NodeSkipped: "skipped", FI.TokenEnded: "ended"}
        self._line(w, e, kinds[type(e)], node=e.node, detail={"hook": e.hook} if hasattr(e, "hook") else None)
        self._touch(w, e, position)

    @handles(FI.BranchTaken)
    def branch(self, w: SqlWriter, e: FI.BranchTaken, position: int) -> None:
        self._line(w, e, "branch_taken", node=e.gateway, detail={"targets": e.targets})
        self._seen(w, e, position)

    @handles(FI.Forked)
    def forked(self, w: SqlWriter, e: FI.Forked, position: int) -> None:
        w.execute("UPDATE flows_instances SET visited = visited || %s::text[] WHERE id = %s",
                  (list(e.children.values()), e.originator_id))
        self._tokens(w, e, "(tokens - %s::text) || %s::jsonb", (e.token, json_text(e.children)))
        self._seen(w, e, position)

    @handles(FI.ArrivedAtJoin)
    def arrived(self, w: SqlWriter, e: FI.ArrivedAtJoin, position: int) -> None:
        self._seen(w, e, position)  # the token stays on the join node until the others arrive

    @handles(FI.Joined)
    def joined(self, w: SqlWriter, e: FI.Joined, position: int) -> None:
        self._tokens(w, e, "(tokens - %s::text[]) || jsonb_build_object(%s::text, %s::text)",
                     (e.tokens, e.token, e.node))
        self._seen(w, e, position)

    @handles(FI.Completed, FI.Finished)
    def finished(self, w: SqlWriter, e: FI.Completed | FI.Finished, position: int) -> None:
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
    def chained(self, w: SqlWriter, e: FI.Chained, position: int) -> None:
        following = str(e.next_instance) if e.next_instance else None
        self._line(w, e, "chained", comment=e.problem, detail={"next_flow": e.next_flow, "next_instance": following})
        self._seen(w, e, position)

    @handles(FI.Remarked)
    def remarked(self, w: SqlWriter, e: FI.Remarked, position: int) -> None:
        self._line(w, e, "remark", comment=e.text)
        self._seen(w, e, position)

    @handles(FI.Resubmitted)
    def resubmitted(self, w: SqlWriter, e: FI.Resubmitted, position: int) -> None:
        self._line(w, e, "resubmitted")
        self._seen(w, e, position)

    @handles(FI.FormEdited)
    def form_edited(self, w: SqlWriter, e: FI.FormEdited, position: int) -> None:
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

    def _task_at(self, w: SqlWriter, e: FI.FormEdited) -> str | None:
        """The task an edit was made at: the open task at its node, the editor's own first (none
        for a resubmission at the start node or an administrator's edit where no task is open)."""
        w.execute("SELECT task_id FROM flows_tasks WHERE instance_id = %s AND node = %s AND status = 'open'"
                  " ORDER BY (%s = ANY(candidates)) DESC, opened_at DESC LIMIT 1", (e.originator_id, e.node, e.actor))
        row = w.fetchone()
        return row["task_id"] if row else None
