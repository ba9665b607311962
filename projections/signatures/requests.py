"""Read model of signing requests: one row per request (the staff list, what is due to expire,
which request sealed a given hash) and its trail, one row per step (签署流程追溯). The link's
hash is never copied here: the read side needs no credential."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.shared.aggregate import LedgerAggregate
from domain.signatures.request import SigningRequest
from projections.framework import PostgresProjection, SqlWriter, handles, json_text

R = SigningRequest
SCOPE = ("(%(all_lines)s OR r.business_line = ANY(%(lines)s)) AND (%(all_departments)s"
         " OR r.department_id = ANY(%(departments)s) OR r.fund_account = ANY(%(accounts)s))")


class SigningRequestsProjection(PostgresProjection):
    name = "signatures.requests"
    tables = ("signatures_requests", "signatures_trail")
    schema = (
        "CREATE TABLE IF NOT EXISTS signatures_requests (id uuid PRIMARY KEY, status text NOT NULL,"
        " business_line text NOT NULL, department_id uuid, customer text, fund_account text, business_type text,"
        " flow_instance uuid, flow_request text, document_id uuid NOT NULL, document_sha256 text NOT NULL,"
        " filename text NOT NULL, signer_name text NOT NULL, signer_phone text, signer_email text,"
        " expires_at timestamptz NOT NULL, requested_at timestamptz NOT NULL, requested_by text NOT NULL,"
        " views int NOT NULL DEFAULT 0, signed_at timestamptz, signed_name text, signed_document_id uuid,"
        " sealed_sha256 text, development_certificate boolean, closed_reason text, version int NOT NULL,"
        " position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS signatures_requests_list ON signatures_requests (requested_at DESC, id DESC)",
        "CREATE INDEX IF NOT EXISTS signatures_requests_due ON signatures_requests (expires_at)"
        " WHERE status = 'pending'",
        "CREATE INDEX IF NOT EXISTS signatures_requests_sealed ON signatures_requests (sealed_sha256)",
        "CREATE TABLE IF NOT EXISTS signatures_trail (request_id uuid NOT NULL, seq int NOT NULL, kind text NOT NULL,"
        " actor text NOT NULL, detail jsonb NOT NULL, occurred_at timestamptz NOT NULL, position bigint NOT NULL,"
        " PRIMARY KEY (request_id, seq))",
    )

    def _step(self, w: SqlWriter, e: LedgerAggregate.Event, position: int, kind: str, detail: dict[str, Any],
              sets: str = "", params: tuple[Any, ...] = ()) -> None:
        w.execute("INSERT INTO signatures_trail VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.originator_version, kind, e.actor, json_text(detail, str), e.timestamp,
                   position))
        if sets or kind != "requested":
            w.execute("UPDATE signatures_requests SET " + sets + ("," if sets else "") +
                      " version = %s, position = %s WHERE id = %s",
                      (*params, e.originator_version, position, e.originator_id))

    @handles(R.Requested)
    def requested(self, w: SqlWriter, e: R.Requested, position: int) -> None:
        w.execute("INSERT INTO signatures_requests (id, status, business_line, department_id, customer, fund_account,"
                  " business_type, flow_instance, flow_request, document_id, document_sha256, filename, signer_name,"
                  " signer_phone, signer_email, expires_at, requested_at, requested_by, version, position) VALUES"
                  " (%s,'pending',%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.business_line, e.department_id, e.customer, e.fund_account, e.business_type,
                   e.flow_instance, e.flow_request, e.document_id, e.document_sha256, e.filename, e.signer_name,
                   e.signer_phone, e.signer_email, e.expires_at, e.timestamp, e.actor, e.originator_version,
                   position))
        self._step(w, e, position, "requested", {"document_id": e.document_id, "document_sha256": e.document_sha256,
                                                 "expires_at": e.expires_at})

    @handles(R.LinkViewed)
    def viewed(self, w: SqlWriter, e: R.LinkViewed, position: int) -> None:
        self._step(w, e, position, "viewed", {"client_ip": e.client_ip, "user_agent": e.user_agent},
                   "views = views + 1")

    @handles(R.LinkReissued)
    def reissued(self, w: SqlWriter, e: R.LinkReissued, position: int) -> None:
        self._step(w, e, position, "link_reissued", {"expires_at": e.expires_at, "reason": e.reason},
                   "expires_at = %s", (e.expires_at,))

    @handles(R.Signed)
    def signed(self, w: SqlWriter, e: R.Signed, position: int) -> None:
        self._step(w, e, position, "signed", {
            "signer_name": e.signer_name, "consent_version": e.consent_version, "consent_sha256": e.consent_sha256,
            "signed_at": e.signed_at, "client_ip": e.client_ip, "user_agent": e.user_agent},
            "status = 'signed', signed_at = %s, signed_name = %s", (e.signed_at, e.signer_name))

    @handles(R.Sealed)
    def sealed(self, w: SqlWriter, e: R.Sealed, position: int) -> None:
        self._step(w, e, position, "sealed", {
            "signed_document_id": e.signed_document_id, "sha256": e.sealed_sha256,
            "certificate_fingerprint": e.certificate_fingerprint,
            "development_certificate": e.development_certificate},
            "status = 'sealed', signed_document_id = %s, sealed_sha256 = %s, development_certificate = %s",
            (e.signed_document_id, e.sealed_sha256, e.development_certificate))

    @handles(R.Expired)
    def expired(self, w: SqlWriter, e: R.Expired, position: int) -> None:
        self._step(w, e, position, "expired", {"expires_at": e.expires_at},
                   "status = 'expired', closed_reason = 'expired'")

    @handles(R.Revoked)
    def revoked(self, w: SqlWriter, e: R.Revoked, position: int) -> None:
        self._step(w, e, position, "revoked", {"reason": e.reason}, "status = 'revoked', closed_reason = %s",
                   (e.reason,))


class SigningQueries:
    def __init__(self, db: Any):
        self.db = db

    def request(self, request_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM signatures_requests WHERE id = %s", (request_id,))

    def trail(self, request_id: UUID) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT seq, kind, actor, detail, occurred_at FROM signatures_trail"
                                 " WHERE request_id = %s ORDER BY seq", (request_id,))

    def page(self, scope: dict[str, Any], *, status: str | None, flow_instance: UUID | None,
             after: Sequence[Any] | None, limit: int) -> list[dict[str, Any]]:
        """Newest first, keyset-paginated by (requested_at, id)."""
        return self.db.fetch_all(
            "SELECT * FROM signatures_requests r WHERE " + SCOPE +
            " AND (%(status)s::text IS NULL OR r.status = %(status)s)"
            " AND (%(fi)s::uuid IS NULL OR r.flow_instance = %(fi)s)"
            " AND (%(after_at)s::timestamptz IS NULL OR (r.requested_at, r.id) < (%(after_at)s, %(after_id)s::uuid))"
            " ORDER BY r.requested_at DESC, r.id DESC LIMIT %(limit)s",
            {**scope, "status": status, "fi": flow_instance, "after_at": after[0] if after else None,
             "after_id": after[1] if after else None, "limit": limit})

    def due(self, now: datetime, limit: int = 500) -> list[UUID]:
        rows = self.db.fetch_all("SELECT id FROM signatures_requests WHERE status = 'pending' AND expires_at <= %s"
                                 " ORDER BY expires_at LIMIT %s", (now, limit))
        return [r["id"] for r in rows]

    def by_sealed_sha256(self, sha256: str) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM signatures_requests WHERE sealed_sha256 = %s LIMIT 1", (sha256,))
