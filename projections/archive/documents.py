"""Read models of archived documents: the current state of each (for the customer and business
views), every version in order, and a per-document history of every change."""
from __future__ import annotations

from typing import Any

from domain.archive.document import Document
from domain.archive.export import ArchiveExport
from domain.archive.sync import SyncBatch
from domain.shared.aggregate import LedgerAggregate
from projections.framework import PostgresProjection, SqlWriter, handles, json_text

D = Document


class ArchiveDocumentsProjection(PostgresProjection):
    name = "archive.documents"
    tables = ("archive_documents", "archive_versions", "archive_history", "archive_exports", "archive_sync_batches",
              "archive_sync_entries")
    schema = (
        "CREATE TABLE IF NOT EXISTS archive_documents (id uuid PRIMARY KEY, customer text, fund_account text,"
        " level text NOT NULL, business_line text NOT NULL, department_id uuid, business_type text,"
        " flow_instance uuid, category text NOT NULL, filename text NOT NULL, media_type text NOT NULL,"
        " size bigint NOT NULL, sha256 text NOT NULL, current_version int NOT NULL, status text NOT NULL,"
        " source text NOT NULL, metadata jsonb NOT NULL, uploaded_at timestamptz NOT NULL, uploaded_by text NOT NULL,"
        " updated_at timestamptz NOT NULL, deleted_at timestamptz, version int NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS archive_documents_customer ON archive_documents (customer, uploaded_at, id)",
        "CREATE INDEX IF NOT EXISTS archive_documents_flow ON archive_documents (flow_instance)",
        "CREATE INDEX IF NOT EXISTS archive_documents_business ON archive_documents (business_type, uploaded_at, id)",
        "CREATE INDEX IF NOT EXISTS archive_documents_deleted ON archive_documents (deleted_at)"
        " WHERE status = 'deleted'",
        "CREATE TABLE IF NOT EXISTS archive_versions (document_id uuid NOT NULL, number int NOT NULL,"
        " filename text NOT NULL, media_type text NOT NULL, size bigint NOT NULL, sha256 text NOT NULL,"
        " comment text NOT NULL DEFAULT '', added_at timestamptz NOT NULL, added_by text NOT NULL,"
        " purged boolean NOT NULL DEFAULT false, PRIMARY KEY (document_id, number))",
        "CREATE INDEX IF NOT EXISTS archive_versions_sha ON archive_versions (sha256)",
        "CREATE TABLE IF NOT EXISTS archive_history (document_id uuid NOT NULL, seq int NOT NULL, kind text NOT NULL,"
        " actor text NOT NULL, correlation_id text, detail jsonb NOT NULL, occurred_at timestamptz NOT NULL,"
        " position bigint NOT NULL, PRIMARY KEY (document_id, seq))",
        "CREATE TABLE IF NOT EXISTS archive_exports (id uuid PRIMARY KEY, rule_key text, rule jsonb NOT NULL,"
        " business_line text, count int NOT NULL, zip_sha256 text NOT NULL, size bigint NOT NULL, purpose text"
        " NOT NULL, actor text NOT NULL, produced_at timestamptz NOT NULL, position bigint NOT NULL, reach jsonb)",
        "ALTER TABLE archive_exports ADD COLUMN IF NOT EXISTS reach jsonb",
        "CREATE TABLE IF NOT EXISTS archive_sync_batches (id uuid PRIMARY KEY, batch_id text NOT NULL, source text"
        " NOT NULL, business_line text NOT NULL, imported int NOT NULL, anomalies int NOT NULL, open_anomalies int"
        " NOT NULL, imported_by text NOT NULL, imported_at timestamptz NOT NULL)",
        "CREATE TABLE IF NOT EXISTS archive_sync_entries (batch uuid NOT NULL, index int NOT NULL, batch_id text"
        " NOT NULL, business_line text NOT NULL, file text NOT NULL, customer text, fund_account text,"
        " status text NOT NULL, document_id uuid, anomaly text, detail text, resolution text, note text,"
        " resolved_by text, resolved_at timestamptz, PRIMARY KEY (batch, index))",
        "ALTER TABLE archive_sync_batches ADD COLUMN IF NOT EXISTS department_id uuid",
        "ALTER TABLE archive_sync_entries ADD COLUMN IF NOT EXISTS department_id uuid",
        "CREATE INDEX IF NOT EXISTS archive_sync_open ON archive_sync_entries (anomaly)"
        " WHERE status = 'anomaly' AND resolution IS NULL",
    )

    def _history(self, w: SqlWriter, e: LedgerAggregate.Event, position: int, kind: str,
                 detail: dict[str, Any]) -> None:
        w.execute("INSERT INTO archive_history VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s)"
                  " ON CONFLICT DO NOTHING",
                  (e.originator_id, e.originator_version, kind, e.actor, e.correlation_id, json_text(detail, str),
                   e.timestamp, position))

    def _touch(self, w: SqlWriter, e: LedgerAggregate.Event, position: int, sets: str = "",
               params: tuple[Any, ...] = ()) -> None:
        w.execute("UPDATE archive_documents SET " + sets + ("," if sets else "") +
                  " updated_at = %s, version = %s, position = %s WHERE id = %s",
                  (*params, e.timestamp, e.originator_version, position, e.originator_id))

    @handles(D.Uploaded)
    def uploaded(self, w: SqlWriter, e: D.Uploaded, position: int) -> None:
        w.execute("INSERT INTO archive_documents VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,1,'active',%s,"
                  "%s::jsonb,%s,%s,%s,NULL,%s,%s)",
                  (e.originator_id, e.customer, e.fund_account, "account" if e.fund_account else "customer",
                   e.business_line, e.department_id, e.business_type, e.flow_instance, e.category, e.filename,
                   e.media_type, e.size, e.sha256, e.source, json_text(e.metadata, str), e.timestamp, e.actor,
                   e.timestamp, e.originator_version, position))
        w.execute("INSERT INTO archive_versions VALUES (%s, 1, %s, %s, %s, %s, '', %s, %s, false)",
                  (e.originator_id, e.filename, e.media_type, e.size, e.sha256, e.timestamp, e.actor))
        self._history(w, e, position, "uploaded", {
            "filename": e.filename, "media_type": e.media_type, "size": e.size, "sha256": e.sha256,
            "category": e.category, "customer": e.customer, "fund_account": e.fund_account,
            "business_type": e.business_type, "source": e.source})

    @handles(D.VersionAdded)
    def version_added(self, w: SqlWriter, e: D.VersionAdded, position: int) -> None:
        w.execute("INSERT INTO archive_versions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, false)",
                  (e.originator_id, e.number, e.filename, e.media_type, e.size, e.sha256, e.comment, e.timestamp,
                   e.actor))
        self._touch(w, e, position, "current_version = %s, filename = %s, media_type = %s, size = %s, sha256 = %s",
                    (e.number, e.filename, e.media_type, e.size, e.sha256))
        self._history(w, e, position, "version_added", {
            "number": e.number, "filename": e.filename, "media_type": e.media_type, "size": e.size,
            "sha256": e.sha256, "comment": e.comment})

    @handles(D.Reclassified)
    def reclassified(self, w: SqlWriter, e: D.Reclassified, position: int) -> None:
        self._touch(w, e, position, "category = %s, business_type = %s", (e.category, e.business_type))
        self._history(w, e, position, "reclassified", {
            "category": e.category, "business_type": e.business_type, "old_category": e.old_category,
            "old_business_type": e.old_business_type, "reason": e.reason})

    @handles(D.MetadataEdited)
    def metadata_edited(self, w: SqlWriter, e: D.MetadataEdited, position: int) -> None:
        self._touch(w, e, position, "metadata = metadata || %s::jsonb", (json_text(e.changes, str),))
        self._history(w, e, position, "metadata_edited", {"changes": e.changes, "old_values": e.old_values})

    @handles(D.Deleted)
    def deleted(self, w: SqlWriter, e: D.Deleted, position: int) -> None:
        self._touch(w, e, position, "status = 'deleted', deleted_at = %s", (e.timestamp,))
        self._history(w, e, position, "deleted", {"reason": e.reason})

    @handles(D.Restored)
    def restored(self, w: SqlWriter, e: D.Restored, position: int) -> None:
        self._touch(w, e, position, "status = 'active', deleted_at = NULL")
        self._history(w, e, position, "restored", {"reason": e.reason})

    @handles(D.ContentPurged)
    def purged(self, w: SqlWriter, e: D.ContentPurged, position: int) -> None:
        w.execute("UPDATE archive_versions SET purged = true WHERE document_id = %s", (e.originator_id,))
        self._touch(w, e, position, "status = 'purged'")
        self._history(w, e, position, "content_purged", {"sha256s": e.sha256s, "rule": e.rule})

    @handles(D.Filed)
    def filed(self, w: SqlWriter, e: D.Filed, position: int) -> None:
        self._touch(w, e, position, "flow_instance = %s, business_type = %s, customer = %s, fund_account = %s,"
                    " level = %s, department_id = %s",
                    (e.flow_instance, e.business_type, e.customer, e.fund_account,
                     "account" if e.fund_account else "customer", e.department_id))
        self._history(w, e, position, "filed", {
            "flow_instance": e.flow_instance, "business_type": e.business_type, "customer": e.customer,
            "fund_account": e.fund_account})

    @handles(ArchiveExport.ExportProduced)
    def export_produced(self, w: SqlWriter, e: ArchiveExport.ExportProduced, position: int) -> None:
        reach = getattr(e, "reach", None)
        w.execute("INSERT INTO archive_exports (id, rule_key, rule, business_line, count, zip_sha256, size, purpose,"
                  " actor, produced_at, position, reach) VALUES (%s,%s,%s::jsonb,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb)"
                  " ON CONFLICT DO NOTHING",
                  (e.originator_id, e.rule_key, json_text(e.rule, str), e.business_line, e.count, e.zip_sha256, e.size,
                   e.purpose, e.actor, e.timestamp, position, None if reach is None else json_text(reach, str)))

    @handles(SyncBatch.Imported)
    def sync_imported(self, w: SqlWriter, e: SyncBatch.Imported, position: int) -> None:
        anomalies = sum(x["status"] == "anomaly" for x in e.entries)
        department = getattr(e, "department_id", None)
        w.execute("INSERT INTO archive_sync_batches (id, batch_id, source, business_line, imported, anomalies,"
                  " open_anomalies, imported_by, imported_at, department_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                  " ON CONFLICT DO NOTHING",
                  (e.originator_id, e.batch_id, e.source, e.business_line, len(e.entries) - anomalies, anomalies,
                   anomalies, e.actor, e.timestamp, department))
        for x in e.entries:
            w.execute("INSERT INTO archive_sync_entries (batch, index, batch_id, business_line, file, customer,"
                      " fund_account, status, document_id, anomaly, detail, department_id)"
                      " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                      (e.originator_id, x["index"], e.batch_id, e.business_line, x["file"], x.get("customer"),
                       x.get("fund_account"), x["status"], x.get("document_id"), x.get("anomaly"), x.get("detail"),
                       department))

    @handles(SyncBatch.AnomalyResolved)
    def sync_resolved(self, w: SqlWriter, e: SyncBatch.AnomalyResolved, position: int) -> None:
        w.execute("UPDATE archive_sync_entries SET resolution = %s, note = %s, resolved_by = %s, resolved_at = %s"
                  " WHERE batch = %s AND index = %s", (e.resolution, e.note, e.actor, e.timestamp, e.originator_id,
                                                       e.index))
        w.execute("UPDATE archive_sync_batches SET open_anomalies = open_anomalies - 1 WHERE id = %s",
                  (e.originator_id,))
