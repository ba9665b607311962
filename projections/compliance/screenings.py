"""Read models of the compliance context: every list load (kind, version, hash, count, file, who)
and every screening with its hits and review, for the compliance lists and the review queue."""
from __future__ import annotations

from domain.compliance.lists import LIST_KINDS, ScreeningList, list_id
from domain.compliance.screening import Screening
from projections.framework import PostgresProjection, SqlWriter, handles, json_text

# A list's id derives from its kind (one list per kind): the load events need not repeat it.
_KINDS = {list_id(kind): kind for kind in LIST_KINDS}


class ComplianceProjection(PostgresProjection):
    name = "compliance.screenings"
    tables = ("compliance_list_loads", "compliance_screenings")
    schema = (
        "CREATE TABLE IF NOT EXISTS compliance_list_loads (kind text NOT NULL, version int NOT NULL,"
        " list_id uuid NOT NULL, entries_hash text NOT NULL, entry_count int NOT NULL, source_filename text NOT NULL,"
        " loaded_by text NOT NULL, loaded_at timestamptz NOT NULL, position bigint NOT NULL,"
        " PRIMARY KEY (kind, version))",
        "CREATE INDEX IF NOT EXISTS compliance_list_loads_at ON compliance_list_loads (loaded_at, kind, version)",
        "CREATE TABLE IF NOT EXISTS compliance_screenings (id uuid PRIMARY KEY, request_id text NOT NULL,"
        " instance_id uuid, node text NOT NULL, business_type text NOT NULL, business_line text,"
        " initiator text NOT NULL, subjects jsonb NOT NULL, list_versions jsonb NOT NULL, threshold float8 NOT NULL,"
        " hits jsonb NOT NULL, hit_count int NOT NULL, status text NOT NULL, decided_by text, decision_reason text,"
        " decided_at timestamptz, screened_at timestamptz NOT NULL, version int NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS compliance_screenings_status ON compliance_screenings (status, screened_at, id)",
        "CREATE INDEX IF NOT EXISTS compliance_screenings_at ON compliance_screenings (screened_at, id)",
        "CREATE INDEX IF NOT EXISTS compliance_screenings_instance ON compliance_screenings (instance_id)",
    )

    @handles(ScreeningList.ListLoaded)
    def loaded(self, w: SqlWriter, e: ScreeningList.ListLoaded, position: int) -> None:
        w.execute("INSERT INTO compliance_list_loads VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                  " ON CONFLICT DO NOTHING",
                  (_KINDS[e.originator_id], e.version, e.originator_id, e.entries_hash, e.entry_count,
                   e.source_filename, e.actor, e.timestamp, position))

    @handles(Screening.Performed)
    def performed(self, w: SqlWriter, e: Screening.Performed, position: int) -> None:
        w.execute("INSERT INTO compliance_screenings VALUES (%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s::jsonb,%s,%s::jsonb,"
                  "%s,%s,NULL,NULL,NULL,%s,%s,%s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.request_id, e.instance_id, e.node, e.business_type, e.business_line,
                   e.initiator, json_text(e.subjects), json_text(e.list_versions), e.threshold, json_text(e.hits),
                   len(e.hits), "pending_review" if e.hits else "clear", e.timestamp, e.originator_version,
                   position))

    @handles(Screening.Cleared, Screening.Confirmed)
    def reviewed(self, w: SqlWriter, e: Screening.Cleared | Screening.Confirmed, position: int) -> None:
        status = "cleared" if isinstance(e, Screening.Cleared) else "confirmed"
        w.execute("UPDATE compliance_screenings SET status = %s, decided_by = %s, decision_reason = %s,"
                  " decided_at = %s, version = %s, position = %s WHERE id = %s",
                  (status, e.actor, e.reason, e.timestamp, e.originator_version, position, e.originator_id))
