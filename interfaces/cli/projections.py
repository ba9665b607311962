"""``ledgerflow projections``: inspect, retry and rebuild projections."""
from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from interfaces.cli.common import _bar, _running, console

projections_app = typer.Typer(help="Inspect and rebuild projections.", no_args_is_help=True)


@projections_app.command("status")
def projections_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List projections with their position, lag, parked events, the version their tables were
    built by, and a blue/green rebuild under way (its version and progress)."""
    with _running() as container:
        rows = [(runner.status(), runner.projection.version) for runner in container.runners.values()]
    if as_json:
        print(json.dumps([{"name": s.name, "kind": s.kind, "position": s.position, "head": s.head, "lag": s.lag,
                           "parked": s.parked, "version": s.version, "code_version": code,
                           "rebuild": None if s.rebuild is None else {
                               "version": s.rebuild.version, "position": s.rebuild.position,
                               "lag": s.rebuild.lag, "percent": round(s.rebuild.percent, 1)}}
                          for s, code in rows]))
        return
    table = Table("projection", "kind", "position", "head", "lag", "parked", "version", "rebuild")
    for s, code in rows:
        version = str(s.version) if s.version == code else f"[yellow]{s.version} (code {code})[/yellow]"
        rebuild = "" if s.rebuild is None else f"v{s.rebuild.version} {s.rebuild.percent:.0f}% (lag {s.rebuild.lag})"
        table.add_row(s.name, s.kind, str(s.position), str(s.head), str(s.lag),
                      f"[red]{s.parked}[/red]" if s.parked else "0", version, rebuild)
    console.print(table)


@projections_app.command("retry")
def projections_retry(name: str, skip: Annotated[list[int] | None, typer.Option(
        help="Position of a parked event to set aside for good (repeatable): its aggregate's later events are "
             "then applied. For an event stored by an older release that no code can apply; the event stays in "
             "the store and its audit trail.")] = None) -> None:
    """Re-apply the events a projection parked (after fixing their cause); list those still parked."""
    with _running() as container:
        runner = container.runners.get(name)
        if runner is None or runner.projection.kind != "postgres":
            console.print(f"[red]{name!r} is not a read-model projection[/red]; analytics sinks are rebuilt")
            raise typer.Exit(2)
        applied, remaining = runner.retry_parked(skip=set(skip or ()))
        console.print(f"{name}: {applied} applied, {remaining} still parked")
        for row in runner.parked():
            console.print(f"  #{row['position']} {row['topic']} {row['originator_id']}: {row['error']}")
    if remaining:
        raise typer.Exit(1)


@projections_app.command("rebuild")
def projections_rebuild(
        name: Annotated[str | None, typer.Argument(help="The projection (omit with --all)")] = None,
        every: Annotated[bool, typer.Option("--all", help="Rebuild every projection, one after the other")] = False,
        restart: Annotated[bool, typer.Option(help="Start over even if a build of this version is under way")] = False,
        batch_size: Annotated[int | None, typer.Option(help="Events per transaction (default: the setting)")] = None,
) -> None:
    """Rebuild projections blue/green (ADR 0029): new tables are built from position 0 while the
    current ones keep serving, then switched in atomically and the old ones dropped. An interrupted
    rebuild resumes where it stopped. Exits 1 if another process is rebuilding the projection."""
    with _running() as container:
        if every == (name is not None):
            console.print("[red]name one projection, or --all[/red]")
            raise typer.Exit(2)
        names = [name] if name is not None else list(container.runners)
        unknown = [n for n in names if n not in container.runners]
        if unknown:
            console.print(f"[red]unknown projection {unknown[0]!r}[/red]; known: {', '.join(container.runners)}")
            raise typer.Exit(2)
        for one in names:
            _rebuild(container, one, restart, batch_size or container.settings.projection_rebuild_batch_size)


def _rebuild(container: Any, name: str, restart: bool, batch_size: int) -> None:
    from infrastructure.rebuilds import BlueGreenRebuild, RebuildBusy

    runner = container.runners[name]
    rebuild = BlueGreenRebuild(runner, batch_size=batch_size)
    with _bar(f"rebuilding {name} (version {runner.projection.version})") as progress:
        task = progress.add_task(name, total=container.store.head())
        try:
            rebuild.run(restart=restart,
                        progress=lambda position, head: progress.update(task, completed=position, total=head))
        except RebuildBusy:
            console.print(f"[red]another process is rebuilding {name}[/red]; see `ledgerflow projections status`")
            raise typer.Exit(1) from None
        progress.update(task, completed=progress.tasks[0].total)
    console.print(f"{name} rebuilt and switched in at position {rebuild.position}")
