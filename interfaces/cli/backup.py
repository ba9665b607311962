"""``ledgerflow backup DEST`` and ``ledgerflow restore SRC`` (ADR 0030; runbook in docs/operations.md
"Backup and restore")."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress

from infrastructure.audit.factory import anchor_from_url
from infrastructure.settings import Settings
from interfaces.cli.common import _bar, _running, _settings, console

if TYPE_CHECKING:
    from infrastructure.projections import ProjectionRunner

# Settings whose keys the stored data depends on: the chain's HMACs, and the master key that
# encrypts the per-subject keys of personal data (ADR 0028). Only
# their fingerprints go into a backup; a restore under other keys is refused.
DATA_KEYS = ("audit_chain_key", "master_key")
STAGES = "{task.description}"


def data_keys(settings: Settings) -> dict[str, bytes | None]:
    keys: dict[str, bytes | None] = {}
    for name in DATA_KEYS:
        secret = getattr(settings, name)
        keys[name] = secret.get_secret_value().encode()
    return keys


def anchors_path(settings: Settings) -> Path | None:
    """The local file of the audit anchor (LEDGERFLOW_AUDIT_ANCHOR, ADR 0027): the anchors file or a
    time-stamping authority's token file; None when an object-locked bucket keeps them itself."""
    return anchor_from_url(settings.audit_anchor, settings.data_dir).local_file


def read_models() -> set[str]:
    """Tables the projections rebuild: left out of a backup, refilled after a restore."""
    from projections.framework import PostgresProjection
    from projections.registry import all_projections

    tables = {"projection_tracking", "projection_parked"}
    for projection in all_projections():
        if isinstance(projection, PostgresProjection):
            tables.update(projection.tables)
    return tables


def not_sources(settings: Settings) -> set[str]:
    """Tables left out of a backup: the read models, and the idempotency keys (ADR 0025), which are
    no source of truth (a retry after a restore is a new request) and hold request fingerprints
    and kept answers that have no business in a long-lived copy."""
    return read_models() | {f"{settings.events_table}_idempotency"}


@contextmanager
def _database(settings: Settings) -> Iterator[str]:
    """The database URL; in embedded mode the data directory's PostgreSQL (shared with a running
    `serve`, which keeps it up)."""
    if settings.database_url:
        yield settings.database_url
        return
    from infrastructure.engines.embedded import EmbeddedPostgres, quiet_platformdirs_warning

    quiet_platformdirs_warning()
    pg = EmbeddedPostgres(settings.data_dir)
    try:
        yield pg.start()
    finally:
        pg.stop()


def _stages(progress: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    return update


def _rebuild(runner: ProjectionRunner, progress: Progress, head: int) -> None:
    task = progress.add_task(runner.name, total=head)

    def moved(position: int, latest: int) -> None:
        progress.update(task, completed=position, total=latest)

    runner.reset()
    runner.catch_up(moved)
    progress.update(task, completed=head, total=head)


def backup(dest: Annotated[Path, typer.Argument(help="A new (or empty) directory to write the backup into")],
           blobs: Annotated[bool, typer.Option("--blobs/--no-blobs", help="Copy the archive's blobs (--no-blobs: "
                                               "an S3 bucket's versioning/replication backs them up)")] = True,
           ) -> None:
    """Back up the event store and its chain, every other source-of-truth table, the audit anchors and
    the archive's blobs, with a manifest (checksums, key fingerprints). Read models are rebuilt on restore."""
    from infrastructure.backup import BackupError
    from infrastructure.backup.run import Source, make_backup
    from interfaces.bootstrap import blob_store

    settings = _settings()
    with _database(settings) as url:
        source = Source(database_url=url, events_table=settings.events_table, read_models=not_sources(settings),
                        blobs=blob_store(settings) if blobs else None, anchors=anchors_path(settings),
                        settings={"events_table": settings.events_table,
                                  "clickhouse_database": settings.clickhouse_database,
                                  "archive_blob_store": settings.archive_blob_store,
                                  "archive_s3_bucket": settings.archive_s3_bucket},
                        keys=data_keys(settings))
        try:
            with _bar(STAGES) as progress:
                manifest = make_backup(dest, source, _stages(progress))
        except BackupError as exc:
            console.print(f"[red]backup failed:[/red] {exc}")
            raise typer.Exit(2) from None
    rows = sum(t["rows"] for t in manifest.tables.values())
    console.print(f"backup of position {manifest.head_position} written to {dest}: {len(manifest.tables)} tables "
                  f"({', '.join(sorted(manifest.tables))}), {rows} rows, {manifest.blobs.get('count', 0)} blobs, "
                  f"anchors {'included' if manifest.anchors.get('included') else 'none'}")
    damaged = manifest.blobs.get("corrupted_in_source") or []
    if damaged:
        console.print(f"[red]{len(damaged)} blob(s) did not match their hash and were left out[/red]: "
                      + ", ".join(damaged) + " (see `ledgerflow archive scan`)")
        raise typer.Exit(1)


def restore(src: Annotated[Path, typer.Argument(help="A directory written by `ledgerflow backup`")],
            force: Annotated[bool, typer.Option("--force", help="Replace an event store that already holds "
                                                "events (its data is lost)")] = False) -> None:
    """Restore a backup into a fresh data directory or database: verify its checksums and key
    fingerprints, load it, rebuild every projection, then verify the audit chain."""
    from infrastructure.backup import BackupError
    from infrastructure.backup.run import check_backup, restore_backup

    settings = _settings()
    try:
        with _bar(STAGES) as progress:
            manifest = check_backup(src, events_table=settings.events_table, keys=data_keys(settings),
                                    progress=_stages(progress))
    except BackupError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(2) from None
    with _running() as container:
        try:
            with _bar(STAGES) as progress:
                loaded = restore_backup(src, manifest, database_url=container.engines.database_url,
                                        events_table=settings.events_table, blobs=container.archive.blobs,
                                        anchors=anchors_path(settings), force=force, progress=_stages(progress))
        except BackupError as exc:
            console.print(f"[red]refused:[/red] {exc}")
            raise typer.Exit(2) from None
        console.print(f"restored {loaded['rows']} rows and {loaded['blobs']} blobs up to position "
                      f"{container.store.head()}; rebuilding the projections")
        head = container.store.head()
        with _bar(STAGES) as progress:
            for runner in container.runners.values():
                _rebuild(runner, progress, head)
        with console.status("verifying the event chain…") as status:
            report = container.audit.verify(lambda n: status.update(f"verified {n} events…"))
    if not report.ok:
        console.print(f"[red]chain broken at position {report.first_break}[/red] after the restore")
        for p in report.problems:
            console.print(f"  position {p.position}: {p.kind}: {p.detail}")
        raise typer.Exit(1)
    console.print(f"[green]restore complete[/green]: chain intact over {report.checked} events, "
                  f"{len(container.runners)} projections rebuilt")
