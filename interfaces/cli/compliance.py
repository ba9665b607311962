"""``ledgerflow compliance``: AML screening lists (ADR 0020, docs/compliance.md)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interfaces.cli.common import _running, console

compliance_app = typer.Typer(help="AML person screening: screening lists.", no_args_is_help=True)


@compliance_app.command("load-list")
def load_list(
    kind: Annotated[str, typer.Argument(help="sanctions, pep or internal")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="CSV or JSON list file (docs/compliance.md)")],
    by: Annotated[str, typer.Option(help="Who loads it, recorded on the event (e.g. operator:li.compliance)")
                  ] = "system:cli",
) -> None:
    """Load a screening list file as the next version of the list (same content: no new version)."""
    from domain.shared.context import CommandContext
    from domain.shared.errors import DomainError, InvalidInputError

    with _running() as container:
        try:
            load = container.compliance.load_list(CommandContext(by, f"cli-load-list-{kind}"), kind, file.name,
                                                  file.read_bytes())
        except DomainError as exc:
            console.print(f"[red]refused ({exc.code}):[/red] {exc.message}")
            for error in (exc.errors[:20] if isinstance(exc, InvalidInputError) else []):
                console.print(f"  {error.get('path')}: {error.get('message')}")
            raise typer.Exit(1) from None
        state = "loaded" if load.changed else "unchanged (the current version has these entries)"
        console.print(f"{kind} list version {load.version}: {load.entry_count} entries, sha256 {load.entries_hash}"
                      f" — {state}")
