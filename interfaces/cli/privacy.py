"""``ledgerflow privacy``: erasure of a data subject's personal data (ADR 0028, docs/privacy.md)."""
from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer

from interfaces.cli.common import _running, console

privacy_app = typer.Typer(help="Personal data: erasure requests (PIPL art. 47).", no_args_is_help=True)


@privacy_app.command("erase")
def erase(
    kind: Annotated[str, typer.Argument(help="lead or customer")],
    subject_id: Annotated[str, typer.Argument(help="The lead's or the customer's id")],
    reason: Annotated[str, typer.Option(help="Why (the request it honours), recorded on the event")],
    by: Annotated[str, typer.Option(help="Who erases, recorded on the event (e.g. operator:li.dpo)")] = "system:cli",
) -> None:
    """Destroy the subject's key: every personal value of it reads as "erased" from then on
    (irreversible; a second run reports the first erasure)."""
    from domain.shared.context import CommandContext
    from domain.shared.errors import DomainError

    try:
        subject = UUID(subject_id)
    except ValueError:
        console.print(f"[red]refused:[/red] {subject_id!r} is not an id")
        raise typer.Exit(1) from None
    with _running() as container:
        try:
            result = container.privacy.erase(CommandContext(by, f"cli-privacy-erase-{subject}"), kind, subject,
                                             reason)
        except DomainError as exc:
            console.print(f"[red]refused ({exc.code}):[/red] {exc.message}")
            raise typer.Exit(1) from None
    state = "was already erased" if result.already else "erased"
    console.print(f"{kind} {subject} {state} at {result.erased_at.isoformat()} by {result.requested_by}"
                  f" (erasure {result.id}, position {result.position})")
