"""Backup and restore of what cannot be rebuilt (ADR 0030): the event store with its audit chain,
every other PostgreSQL table that is a source of truth, the audit anchors, the blob store, and a
manifest that lets a restore refuse a corrupted copy or one made under other keys. Read models
and ClickHouse are rebuilt from the restored events, never copied."""
from __future__ import annotations


class BackupError(Exception):
    """A backup cannot be made, or a restore is refused: the message says why."""
