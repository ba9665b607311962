"""The delegations read model (ADR 0016): one row per grant, kept by the access.principals
projection (``DelegationRows`` is mixed into it), so a grant or a revocation is behind the same
security barrier as every other access change."""
from __future__ import annotations

from domain.access.delegation import DelegationGrant
from projections.framework import SqlWriter, handles

TABLE = "access_delegations"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS access_delegations (id uuid PRIMARY KEY, operator_id uuid NOT NULL,"
    " operator text NOT NULL, api_token_id uuid NOT NULL, scopes text[] NOT NULL, expires_at timestamptz NOT NULL,"
    " revoked boolean NOT NULL DEFAULT false, granted_by text NOT NULL, granted_at timestamptz NOT NULL,"
    " revoked_by text, revoked_at timestamptz, created_at timestamptz NOT NULL, version int NOT NULL,"
    " updated_at timestamptz NOT NULL, position bigint NOT NULL)",
    "CREATE INDEX IF NOT EXISTS access_delegations_operator ON access_delegations (operator_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS access_delegations_token ON access_delegations (api_token_id)",
)


class DelegationRows:
    @handles(DelegationGrant.Granted)
    def delegation_granted(self, w: SqlWriter, e: DelegationGrant.Granted, position: int) -> None:
        w.execute("INSERT INTO access_delegations (id, operator_id, operator, api_token_id, scopes, expires_at,"
                  " granted_by, granted_at, created_at, version, updated_at, position)"
                  " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                  (e.originator_id, e.operator_id, e.operator, e.api_token_id, e.scopes, e.expires_at, e.actor,
                   e.timestamp, e.timestamp, e.originator_version, e.timestamp, position))

    @handles(DelegationGrant.Renewed)
    def delegation_renewed(self, w: SqlWriter, e: DelegationGrant.Renewed, position: int) -> None:
        w.execute("UPDATE access_delegations SET scopes = %s, expires_at = %s, revoked = false, granted_by = %s,"
                  " granted_at = %s, revoked_by = NULL, revoked_at = NULL, version = %s, updated_at = %s,"
                  " position = %s WHERE id = %s",
                  (e.scopes, e.expires_at, e.actor, e.timestamp, e.originator_version, e.timestamp, position,
                   e.originator_id))

    @handles(DelegationGrant.Revoked)
    def delegation_revoked(self, w: SqlWriter, e: DelegationGrant.Revoked, position: int) -> None:
        w.execute("UPDATE access_delegations SET revoked = true, revoked_by = %s, revoked_at = %s, version = %s,"
                  " updated_at = %s, position = %s WHERE id = %s",
                  (e.actor, e.timestamp, e.originator_version, e.timestamp, position, e.originator_id))
