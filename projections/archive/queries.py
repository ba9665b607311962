"""Queries over the archive read models: by customer (every document, account-level and
customer-level, each with its ordered version history), by business (服务归档查询: each
submission's documents per account), exports, and what retention may purge."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

SCOPE = ("(%(all_lines)s OR d.business_line = ANY(%(lines)s)) AND (%(all_departments)s"
         " OR d.department_id = ANY(%(departments)s) OR d.fund_account = ANY(%(accounts)s))")
STATUS = "(%(include_deleted)s OR d.status = 'active')"


class ArchiveQueries:
    def __init__(self, db: Any):
        self.db = db

    def document(self, document_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM archive_documents d WHERE id = %s", (document_id,))

    def _with_history(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not documents:
            return documents
        ids = [d["id"] for d in documents]
        versions: dict[UUID, list] = defaultdict(list)
        history: dict[UUID, list] = defaultdict(list)
        for v in self.db.fetch_all("SELECT * FROM archive_versions WHERE document_id = ANY(%s)"
                                   " ORDER BY document_id, number", (ids,)):
            versions[v.pop("document_id")].append(v)
        for h in self.db.fetch_all("SELECT document_id, seq, kind, actor, detail, occurred_at FROM archive_history"
                                   " WHERE document_id = ANY(%s) ORDER BY document_id, seq", (ids,)):
            history[h.pop("document_id")].append(h)
        for d in documents:
            d["versions"], d["history"] = versions[d["id"]], history[d["id"]]
        return documents

    def detail(self, document_id: UUID) -> dict[str, Any] | None:
        row = self.document(document_id)
        return self._with_history([row])[0] if row else None

    def by_customer(self, scope: dict[str, Any], customer: str, *, include_deleted: bool,
                    category: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.fetch_all(
            "SELECT * FROM archive_documents d WHERE d.customer = %(customer)s AND " + SCOPE + " AND " + STATUS +
            " AND (%(category)s::text IS NULL OR d.category = %(category)s)"
            " ORDER BY d.level DESC, d.fund_account NULLS FIRST, d.uploaded_at, d.id",
            {**scope, "customer": customer, "include_deleted": include_deleted, "category": category})
        return self._with_history(rows)

    def by_business(self, scope: dict[str, Any], *, flow_instance: UUID | None, business_type: str | None,
                    fund_account: str | None, after: Sequence[Any] | None, limit: int) -> list[dict[str, Any]]:
        """Documents of business submissions, newest submission first, keyset-paginated by
        (uploaded_at, id); the route groups them per submission and account."""
        return self.db.fetch_all(
            "SELECT * FROM archive_documents d WHERE d.status = 'active' AND " + SCOPE +
            " AND (d.flow_instance IS NOT NULL OR d.business_type IS NOT NULL)"
            " AND (%(fi)s::uuid IS NULL OR d.flow_instance = %(fi)s)"
            " AND (%(bt)s::text IS NULL OR d.business_type = %(bt)s)"
            " AND (%(fa)s::text IS NULL OR d.fund_account = %(fa)s)"
            " AND (%(after_at)s::timestamptz IS NULL OR (d.uploaded_at, d.id) < (%(after_at)s, %(after_id)s::uuid))"
            " ORDER BY d.uploaded_at DESC, d.id DESC LIMIT %(limit)s",
            {**scope, "fi": flow_instance, "bt": business_type, "fa": fund_account,
             "after_at": after[0] if after else None, "after_id": after[1] if after else None, "limit": limit})

    def for_export(self, scope: dict[str, Any], *, customers: list[str], business_types: list[str],
                   categories: list[str], date_from: date | None, date_to: date | None,
                   include_deleted: bool, limit: int = 10_001) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT * FROM archive_documents d WHERE " + SCOPE + " AND " + STATUS + " AND d.status <> 'purged'"
            " AND (cardinality(%(customers)s::text[]) = 0 OR d.customer = ANY(%(customers)s))"
            " AND (cardinality(%(types)s::text[]) = 0 OR d.business_type = ANY(%(types)s))"
            " AND (cardinality(%(categories)s::text[]) = 0 OR d.category = ANY(%(categories)s))"
            " AND (%(from)s::date IS NULL OR d.uploaded_at >= %(from)s::date)"
            " AND (%(to)s::date IS NULL OR d.uploaded_at < %(to)s::date + 1)"
            " ORDER BY d.customer, d.fund_account NULLS FIRST, d.uploaded_at, d.id LIMIT %(limit)s",
            {**scope, "customers": customers, "types": business_types, "categories": categories,
             "from": date_from, "to": date_to, "include_deleted": include_deleted, "limit": limit})

    def exports(self, scope: dict[str, Any], limit: int = 200) -> list[dict[str, Any]]:
        """Newest exports whose recorded business line the caller may see; the route then keeps
        only those whose whole reach (every document's line, department, account) it covers."""
        return self.db.fetch_all(
            "SELECT * FROM archive_exports d WHERE (%(all_lines)s OR d.business_line = ANY(%(lines)s)"
            " OR d.business_line IS NULL) ORDER BY produced_at DESC LIMIT %(limit)s", {**scope, "limit": limit})

    def export(self, export_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM archive_exports WHERE id = %s", (export_id,))

    def purge_candidates(self) -> list[tuple[UUID, Any]]:
        rows = self.db.fetch_all("SELECT id, deleted_at FROM archive_documents WHERE status = 'deleted'"
                                 " ORDER BY deleted_at")
        return [(r["id"], r["deleted_at"]) for r in rows]

    def referenced(self, sha256: str, other_than: UUID) -> bool:
        """Whether a version of another document, not purged, still points at this content."""
        return self.db.fetch_one("SELECT 1 AS x FROM archive_versions WHERE sha256 = %s AND NOT purged"
                                 " AND document_id <> %s LIMIT 1", (sha256, other_than)) is not None

    def known_hashes(self) -> dict[str, list[dict[str, Any]]]:
        """Every stored content hash the read model expects, with the versions that use it."""
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in self.db.fetch_all("SELECT document_id, number, sha256 FROM archive_versions WHERE NOT purged"):
            out[r["sha256"]].append({"document_id": str(r["document_id"]), "version": r["number"]})
        for r in self.db.fetch_all("SELECT id, zip_sha256 FROM archive_exports"):
            out[r["zip_sha256"]].append({"export_id": str(r["id"])})
        return out

    # -- cloud-platform sync ------------------------------------------------------------------------
    def sync_batches(self, scope: dict[str, Any], limit: int = 100) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT batch_id, source, business_line, imported, anomalies, open_anomalies, imported_by, imported_at"
            " FROM archive_sync_batches WHERE (%(all_lines)s OR business_line = ANY(%(lines)s))"
            " AND (%(all_departments)s OR department_id = ANY(%(departments)s))"
            " ORDER BY imported_at DESC LIMIT %(limit)s", {**scope, "limit": limit})

    def sync_anomalies(self, scope: dict[str, Any], *, open_only: bool, kind: str | None,
                       batch_id: str | None) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT batch_id, index, file, customer, fund_account, anomaly, detail, resolution, note, resolved_by,"
            " resolved_at FROM archive_sync_entries WHERE status = 'anomaly'"
            " AND (%(all_lines)s OR business_line = ANY(%(lines)s))"
            " AND (%(all_departments)s OR department_id = ANY(%(departments)s) OR fund_account = ANY(%(accounts)s))"
            " AND (NOT %(open)s OR resolution IS NULL) AND (%(kind)s::text IS NULL OR anomaly = %(kind)s)"
            " AND (%(batch)s::text IS NULL OR batch_id = %(batch)s) ORDER BY batch_id, index LIMIT 1000",
            {**scope, "open": open_only, "kind": kind, "batch": batch_id})

    def sync_line(self, batch_id: str) -> str | None:
        row = self.sync_batch(batch_id)
        return row["business_line"] if row else None

    def sync_batch(self, batch_id: str) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT business_line, department_id FROM archive_sync_batches WHERE batch_id = %s",
                                 (batch_id,))

    def is_duplicate(self, business_line: str, customer: str, sha256: str) -> bool:
        """Whether this content is already archived for the customer in this business line (and
        only there: another line's documents are no business of a sync batch)."""
        return self.db.fetch_one(
            "SELECT 1 AS x FROM archive_documents d JOIN archive_versions v ON v.document_id = d.id"
            " WHERE d.business_line = %s AND d.customer = %s AND v.sha256 = %s AND d.status = 'active' LIMIT 1",
            (business_line, customer, sha256)) is not None
