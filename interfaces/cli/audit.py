"""``ledgerflow audit``: an aggregate's event trail and the hash chain over every event."""
from __future__ import annotations

import json
from typing import Annotated
from uuid import UUID

import typer
from rich.table import Table

from interfaces.cli.common import _running, console

audit_app = typer.Typer(help="Replay and verify the event history.", no_args_is_help=True)


@audit_app.command("trail")
def audit_trail(aggregate_id: UUID, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the ordered event trail of one aggregate: who, when, what changed."""
    from domain.shared.errors import NotFoundError

    with _running() as container:
        try:
            entries = container.audit.trail(aggregate_id)
        except NotFoundError as exc:
            console.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from None
    if as_json:
        print(json.dumps([vars(e) for e in entries], default=str))
        return
    table = Table("pos", "v", "event", "when", "who", "line", "changes")
    for e in entries:
        changes = "; ".join(f"{k}: {v['old']!r} → {v['new']!r}" for k, v in e.changes.items())
        table.add_row(str(e.position), str(e.version), f"{e.aggregate_type}.{e.event_type}",
                      e.occurred_at.isoformat(timespec="seconds"),
                      f"{e.actor or ''} via {e.via}" if e.via else e.actor or "", e.business_line or "", changes)
    console.print(table)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain over every stored event; exit 1 when it is broken."""
    with _running() as container:
        with console.status("verifying the event chain…") as status:
            report = container.audit.verify(lambda n: status.update(f"verified {n} events…"))
    if report.ok:
        console.print(f"[green]chain intact[/green]: {report.checked} events verified")
        return
    console.print(f"[red]chain broken at position {report.first_break}[/red] ({report.checked} rows checked)")
    for p in report.problems:
        console.print(f"  position {p.position}: {p.kind}: {p.detail}")
    raise typer.Exit(1)
