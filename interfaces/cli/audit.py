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
def audit_verify(since_checkpoint: Annotated[bool, typer.Option(
        "--since-checkpoint", help="Walk only the events after the newest checkpoint that is genuine and matches "
                                   "the store (its hash is trusted); the checkpoints are checked either way.")] = False,
                 ) -> None:
    """Recompute the hash chain and compare it with the anchored checkpoints; exit 1 when broken."""
    with _running() as container:
        with console.status("verifying the event chain…") as status:
            report = container.audit.verify(lambda n: status.update(f"verified {n} events…"),
                                            since_checkpoint=since_checkpoint)
    cp = report.checkpoint
    anchored = (f"checkpoint at position {cp.position} ({cp.at.isoformat(timespec='seconds')}) in {report.anchor}"
                if cp else f"no checkpoint in {report.anchor}")
    walked = f"after position {report.walked_after}" if report.walked_after else "from the first event"
    if report.ok:
        console.print(f"[green]chain intact[/green]: {report.checked} events verified {walked}; {anchored}")
        return
    where = f"chain broken at position {report.first_break}" if report.first_break else "audit problems found"
    console.print(f"[red]{where}[/red] ({report.checked} rows checked {walked}; {anchored})")
    for p in report.problems:
        console.print(f"  position {p.position}: {p.kind}: {p.detail}")
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(force: Annotated[bool, typer.Option(
        "--force", help="Anchor the head even when it is anchored already or the chain shows problems "
                        "(after an incident has been investigated).")] = False) -> None:
    """Anchor a checkpoint of the chain head (position, hash, time, MAC) in LEDGERFLOW_AUDIT_ANCHOR."""
    from application.audit.anchoring import ChainRefusedError

    with _running() as container:
        try:
            written = container.audit.checkpoint(force=force)
        except ChainRefusedError as exc:
            console.print(f"[red]no checkpoint written[/red]: {len(exc.problems)} problems "
                          "(run `ledgerflow audit verify`; --force anchors anyway)")
            for p in exc.problems[:20]:
                console.print(f"  position {p.position}: {p.kind}: {p.detail}")
            raise typer.Exit(1) from None
        anchor = container.audit.anchoring.anchor.description
    if written is None:
        console.print(f"nothing to anchor: the head is already anchored in {anchor} (or the store is empty)")
        return
    console.print(f"[green]checkpoint anchored[/green]: position {written.position}, hash {written.hash.hex()[:16]}…, "
                  f"{written.at.isoformat(timespec='seconds')} in {anchor}")
