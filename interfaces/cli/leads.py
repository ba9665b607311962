"""``ledgerflow leads``: file imports, recycling, assignment replay checks, the account-opening feed."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interfaces.cli.common import _running, console

leads_app = typer.Typer(help="Leads (渠道2.0): import, recycling, replay checks, account-opening feed.",
                        no_args_is_help=True)


@leads_app.command("import")
def leads_import(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV (UTF-8 or GB18030) or XLSX file")],
    channel: Annotated[str, typer.Option(help="Channel code the leads came from")],
    results: Annotated[Path | None, typer.Option(help="Write the per-row results here (CSV)")] = None,
) -> None:
    """Import leads from a file: filtered, assigned, one result per row; exit 1 if a row was rejected."""
    from application.leads.importer import Importer, csv_bytes
    from domain.shared.context import CommandContext
    from domain.shared.errors import DomainError

    with _running() as container:
        try:
            with console.status("importing…") as status:
                report = Importer(container.leads).run_file(
                    CommandContext.system("cli-import"), channel, path, container.settings.leads_import_max_bytes,
                    lambda p: status.update(f"imported {p['rows']} rows: {p['counts']}"))
        except DomainError as exc:
            console.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(2) from None
    console.print(f"{report['rows']} rows: {report['counts']}")
    if results is not None:
        keys = ("row", "status", "reason", "flag", "phone", "lead_id", "owner")
        results.write_bytes(csv_bytes([list(keys), *([r.get(k) for k in keys] for r in report["results"])]))
        console.print(f"per-row results written to {results}")
    if report["counts"]["rejected"]:
        raise typer.Exit(1)


@leads_app.command("recycle")
def leads_recycle() -> None:
    """Run recycling and reassignment once, for every business line with channels."""
    with _running() as container:
        container.runners["leads.leads"].catch_up()
        console.print(container.lead_recycler.tick())


@leads_app.command("verify-assignments")
def leads_verify(business_line: Annotated[str, typer.Argument(help="Business line code")]) -> None:
    """Replay the rule book and recompute every recorded assignment; exit 1 on any difference."""
    from domain.leads.replay import replay_assignments
    from domain.leads.rulebook import rulebook_id

    with _running() as container:
        checked, mismatches = replay_assignments(container.leads.events.get(rulebook_id(business_line)))
    if mismatches:
        console.print(f"[red]{len(mismatches)} of {checked} assignments differ on replay[/red]")
        for m in mismatches[:10]:
            console.print(f"  lead {m['lead']}: recorded {m['recorded']} replayed {m['replayed']}")
        raise typer.Exit(1)
    console.print(f"[green]{checked} assignments reproduced exactly[/green]")


@leads_app.command("opening-feed")
def leads_opening_feed(
    path: Annotated[Path | None, typer.Argument(help="JSON-lines file (default LEDGERFLOW_LEADS_OPENING_FILE)")] = None,
) -> None:
    """Apply new account-opening events from the JSON-lines file (embedded mode adapter)."""
    from infrastructure.leads.account_opening import FileOpeningFeed

    with _running() as container:
        source = path or Path(container.settings.leads_opening_file or container.settings.data_dir /
                              "account_opening.jsonl")
        results = FileOpeningFeed(source).poll(container.leads)
    accepted = sum(r["status"] == "accepted" for r in results)
    console.print(f"{accepted} accepted, {len(results) - accepted} rejected")
    for r in results:
        if r["status"] != "accepted":
            console.print(f"  [yellow]{r['reason']}[/yellow]")
