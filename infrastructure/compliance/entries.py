"""Screening list entries in PostgreSQL (``compliance_list_entries``), addressed by the content
hash a ``ScreeningList.ListLoaded`` event names (ADR 0020). Rows are written once per hash, in one
transaction under an advisory lock on the hash, and never updated: not a read model (no
projection writes or rebuilds it), but the content the events point to, like the archive's blobs."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import orjson
from eventsourcing.postgres import PostgresDatastore

from domain.compliance.lists import ListEntry
from infrastructure.eventstore.schema import create_tables

TABLE = "compliance_list_entries"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (entries_hash text NOT NULL, seq int NOT NULL, entry_id text NOT NULL,"
    " name text NOT NULL, aliases jsonb NOT NULL, id_type text NOT NULL, id_number text NOT NULL,"
    " birth_date date, remarks text NOT NULL, PRIMARY KEY (entries_hash, seq))",
)
COLUMNS = "entries_hash, seq, entry_id, name, aliases, id_type, id_number, birth_date, remarks"


class PostgresListEntries:
    def __init__(self, datastore: PostgresDatastore):
        self.datastore = datastore

    def create(self) -> None:
        create_tables(self.datastore, CREATE)

    def put(self, entries_hash: str, entries: Sequence[ListEntry]) -> None:
        ordered = sorted(entries, key=lambda e: e.entry_id)
        with self.datastore.transaction(commit=True) as curs:
            # Two loads of the same content wait for each other here; the second finds it stored.
            curs.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 20020))", (entries_hash,))
            curs.execute(f"SELECT 1 FROM {TABLE} WHERE entries_hash = %s LIMIT 1", (entries_hash,))
            if curs.fetchone():
                return
            with curs.copy(f"COPY {TABLE} ({COLUMNS}) FROM STDIN") as copy:
                for seq, e in enumerate(ordered):
                    copy.write_row((entries_hash, seq, e.entry_id, e.name, orjson.dumps(list(e.aliases)).decode(),
                                    e.id_type, e.id_number, e.birth_date, e.remarks))

    def get(self, entries_hash: str) -> list[ListEntry]:
        with self.datastore.get_connection() as conn:
            rows = conn.execute(f"SELECT entry_id, name, aliases, id_type, id_number, birth_date, remarks FROM {TABLE}"
                                " WHERE entries_hash = %s ORDER BY seq", (entries_hash,)).fetchall()
        return [ListEntry.model_construct(
            entry_id=r["entry_id"], name=r["name"], aliases=tuple(r["aliases"]), id_type=r["id_type"],
            id_number=r["id_number"], birth_date=r["birth_date"] if isinstance(r["birth_date"], date) else None,
            remarks=r["remarks"]) for r in rows]
