"""Read models of form records: the current data, and the diff view — every added, changed and
removed field or sub-table row (rows matched by id) per save, with old and new values, node
and operator, ready for a UI to colour."""
from __future__ import annotations

from domain.forms.diff import apply_patch, diff
from domain.forms.record import FormRecord
from projections.framework import PostgresProjection, SqlWriter, handles, json_text


class FormRecordsProjection(PostgresProjection):
    name = "forms.records"
    tables = ("forms_records", "forms_record_changes")
    schema = (
        "CREATE TABLE IF NOT EXISTS forms_records (id uuid PRIMARY KEY, business_type text NOT NULL,"
        " form_version int NOT NULL, subject text NOT NULL, business_line text NOT NULL, fund_account text,"
        " department_id uuid, data jsonb NOT NULL, node text, version int NOT NULL, created_by text NOT NULL,"
        " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS forms_records_scope ON forms_records (business_line, department_id, updated_at)",
        "CREATE TABLE IF NOT EXISTS forms_record_changes (record_id uuid NOT NULL, record_version int NOT NULL,"
        " seq int NOT NULL, kind text NOT NULL, path text NOT NULL, old_value jsonb, new_value jsonb, node text,"
        " actor text NOT NULL, occurred_at timestamptz NOT NULL, PRIMARY KEY (record_id, record_version, seq))",
    )

    @handles(FormRecord.Started)
    def started(self, w: SqlWriter, e: FormRecord.Started, position: int) -> None:
        w.execute("INSERT INTO forms_records VALUES (%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s,%s,%s,%s,%s,%s)",
                  (e.originator_id, e.business_type, e.form_version, e.subject, e.business_line, e.fund_account,
                   e.department_id, json_text(e.data), e.node, e.originator_version, e.actor, e.timestamp,
                   e.timestamp, position))

    @handles(FormRecord.Saved)
    def saved(self, w: SqlWriter, e: FormRecord.Saved, position: int) -> None:
        w.execute("SELECT data FROM forms_records WHERE id = %s", (e.originator_id,))
        old = w.fetchone()["data"]
        new = apply_patch(old, e.patch)  # replaying the recorded patch, the way any consumer can
        for seq, change in enumerate(diff(old, new)):
            w.execute("INSERT INTO forms_record_changes VALUES (%s,%s,%s,%s,%s,%s::jsonb,%s::jsonb,%s,%s,%s)",
                      (e.originator_id, e.originator_version, seq, change.kind, change.path, json_text(change.old),
                       json_text(change.new), e.node, e.actor, e.timestamp))
        w.execute("UPDATE forms_records SET data = %s::jsonb, node = %s, version = %s, updated_at = %s,"
                  " position = %s WHERE id = %s",
                  (json_text(new), e.node, e.originator_version, e.timestamp, position, e.originator_id))
