"""PostgreSQL tables into and out of a backup: COPY through psycopg, every table of one backup
read in one REPEATABLE READ snapshot (ADR 0030 says why not pg_dump).

Which tables: every base table of the schema except the read models the caller names (the
projections' tables and their tracking), so a table another feature adds later is a source of
truth, and backed up, unless it is declared a read model. Files are the COPY text format,
gzip-compressed; the schema is not copied: the restoring release creates its own, and the
manifest's column lists map the copied columns onto it."""
from __future__ import annotations

import gzip
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import psycopg
from psycopg.sql import SQL, Composed, Identifier

from infrastructure.backup import BackupError
from infrastructure.backup.manifest import CHUNK, HashingWriter, Manifest, Progress

_TABLES = ("SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'"
           " ORDER BY table_name")
_COLUMNS = ("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
            " AND is_generated = 'NEVER' ORDER BY ordinal_position")


def _tables(cur: Any, schema: str) -> list[str]:
    cur.execute(_TABLES, (schema,))
    return [r[0] for r in cur.fetchall()]


def _columns(cur: Any, schema: str, table: str) -> list[str]:
    cur.execute(_COLUMNS, (schema, table))
    return [r[0] for r in cur.fetchall()]


def _copy(direction: str, schema: str, table: str, columns: list[str]) -> Composed:
    return SQL("COPY {t} ({c}) " + direction).format(
        t=Identifier(schema, table), c=SQL(", ").join(Identifier(c) for c in columns))


class TableDump:
    """What one snapshot wrote: per-table entries and files for the manifest, and the head."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {}
        self.excluded: list[str] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.head = 0


def dump_tables(database_url: str, root: Path, *, schema: str, events_table: str, read_models: Collection[str],
                progress: Progress | None = None) -> TableDump:
    out = TableDump()
    (root / "postgres").mkdir(mode=0o700)
    with psycopg.connect(database_url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = 0")
            names = _tables(cur, schema)  # the first query takes the snapshot every COPY below reads
            if events_table not in names:
                raise BackupError(f"the database has no event store table {events_table!r}")
            out.excluded = [n for n in names if n in read_models]
            included = [n for n in names if n not in read_models]
            cur.execute(SQL("SELECT coalesce(max(notification_id), 0) FROM {e}").format(
                e=Identifier(schema, events_table)))
            out.head = _scalar(cur)
            counts = {}
            for name in included:
                cur.execute(SQL("SELECT count(*) FROM {t}").format(t=Identifier(schema, name)))
                counts[name] = _scalar(cur)
            total, done = sum(counts.values()), 0
            for name in included:
                columns = _columns(cur, schema, name)
                relative = f"postgres/{name}.copy.gz"
                rows = 0
                with (root / relative).open("wb") as raw:
                    hashed = HashingWriter(raw)
                    with gzip.GzipFile(fileobj=hashed, mode="wb", compresslevel=1, mtime=0) as packed, \
                            cur.copy(_copy("TO STDOUT", schema, name, columns)) as copy:
                        # COPY hands out one row per chunk: compress and count them a megabyte at a time.
                        pending = bytearray()
                        for data in copy:
                            pending += data
                            if len(pending) >= CHUNK:
                                rows, done = _flush(packed, pending, rows, done, total, progress)
                        rows, done = _flush(packed, pending, rows, done, total, progress)
                    raw.flush()
                    os.fsync(raw.fileno())
                if rows != counts[name]:
                    raise BackupError(f"{name}: copied {rows} rows of {counts[name]}")
                out.tables[name] = {"file": relative, "rows": rows, "columns": columns}
                out.files[relative] = hashed.entry()
    return out


def _flush(packed: gzip.GzipFile, pending: bytearray, rows: int, done: int, total: int,
           progress: Progress | None) -> tuple[int, int]:
    lines = pending.count(b"\n")  # the text format escapes newlines inside values
    packed.write(pending)
    pending.clear()
    if progress and lines:
        progress("tables", done + lines, total)
    return rows + lines, done + lines


def load_tables(database_url: str, root: Path, manifest: Manifest, *, schema: str, events_table: str,
                force: bool = False, progress: Progress | None = None) -> int:
    """Copy the backup's tables into this database in one transaction; returns the rows loaded.
    Refuses a database whose event store (or any table the backup fills) holds rows, unless
    ``force``, which empties them first."""
    total = sum(t["rows"] for t in manifest.tables.values())
    done = 0
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        existing = set(_tables(cur, schema))
        missing = sorted(set(manifest.tables) - existing)
        if missing:
            raise BackupError(f"this release has no table {', '.join(missing)}: restore with the release that made "
                              "the backup (or a later one that still has them)")
        # Nothing may append while the store is replaced (the services should be stopped anyway).
        cur.execute(SQL("LOCK TABLE {e} IN EXCLUSIVE MODE").format(e=Identifier(schema, events_table)))
        filled = [name for name in sorted(manifest.tables) if _has_rows(cur, schema, name)]
        if filled and not force:
            raise BackupError(f"{', '.join(filled)} already hold rows here: restore into a fresh data directory or "
                              "database, or pass --force to replace them")
        if filled:
            cur.execute(SQL("TRUNCATE {t}").format(t=SQL(", ").join(Identifier(schema, n) for n in manifest.tables)))
        for name, entry in sorted(manifest.tables.items()):
            unknown = sorted(set(entry["columns"]) - set(_columns(cur, schema, name)))
            if unknown:
                raise BackupError(f"{name} has no column {', '.join(unknown)} in this release")
            rows = 0
            with gzip.open(root / entry["file"], "rb") as packed, \
                    cur.copy(_copy("FROM STDIN", schema, name, entry["columns"])) as copy:
                while data := packed.read(CHUNK):
                    copy.write(data)
                    lines = data.count(b"\n")
                    rows += lines
                    done += lines
                    if progress:
                        progress("tables", done, total)
            if rows != entry["rows"]:
                raise BackupError(f"{name}: the file holds {rows} rows, the manifest says {entry['rows']}")
            _advance_sequences(cur, schema, name, entry["columns"])
    return done


def _scalar(cur: Any) -> Any:
    row = cur.fetchone()
    if row is None:
        raise BackupError("expected one row from an aggregate query")
    return row[0]


def _has_rows(cur: Any, schema: str, table: str) -> bool:
    cur.execute(SQL("SELECT EXISTS (SELECT 1 FROM {t})").format(t=Identifier(schema, table)))
    return bool(_scalar(cur))


def _advance_sequences(cur: Any, schema: str, table: str, columns: list[str]) -> None:
    """Serial and identity columns continue after the restored rows, not from 1."""
    relation = Identifier(schema, table).as_string(cur)
    for column in columns:
        cur.execute("SELECT pg_get_serial_sequence(%s, %s)", (relation, column))
        sequence = _scalar(cur)
        if sequence is not None:
            cur.execute(SQL("SELECT setval(%s, coalesce(max({c}), 0) + 1, false) FROM {t}").format(
                c=Identifier(column), t=Identifier(schema, table)), (sequence,))
