"""``ledgerflow projections``: inspect, retry and rebuild projections."""
from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from interfaces.cli.common import _bar, _running, console

projections_app = typer.Typer(help="Inspect and rebuild projections.", no_args_is_help=True)


@projections_app.command("status")
def projections_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List projections with their position, lag and parked events."""
    with _running() as container:
        rows = [runner.status() for runner in container.runners.values()]
    if as_json:
        print(json.dumps([{"name": s.name, "kind": s.kind, "position": s.position, "head": s.head, "lag": s.lag,
                           "parked": s.parked} for s in rows]))
        return
    table = Table("projection", "kind", "position", "head", "lag", "parked")
    for s in rows:
        table.add_row(s.name, s.kind, str(s.position), str(s.head), str(s.lag),
                      f"[red]{s.parked}[/red]" if s.parked else "0")
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
def projections_rebuild(name: str) -> None:
    """Empty one projection and replay every event into it, with a progress bar."""
    with _running() as container:
        runner = container.runners.get(name)
        if runner is None:
            console.print(f"[red]unknown projection {name!r}[/red]; known: {', '.join(container.runners)}")
            raise typer.Exit(2)
        runner.reset()
        head = container.store.head()
        with _bar(f"rebuilding {name}") as progress:
            task = progress.add_task(name, total=head)
            runner.catch_up(lambda position, h: progress.update(task, completed=position, total=h))
            progress.update(task, completed=progress.tasks[0].total)
        console.print(f"{name} rebuilt up to position {runner.position()}")
