"""``ledgerflow notifications``: external deliveries (ADR 0015) — the dead-letter list, sending dead
letters again, the outbox by channel and status, and one delivery pass by hand."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, cast

import typer
from rich.table import Table

from domain.notifications.delivery import CHANNELS, STATUSES, ChannelName, Status
from interfaces.cli.common import _bar, _running, console

notifications_app = typer.Typer(help="External deliveries of notifications: dead letters, retries, status.",
                                no_args_is_help=True)
CLI_ACTOR = "system:cli"


def _channel(value: str | None) -> ChannelName | None:
    if value is not None and value not in CHANNELS:
        raise typer.BadParameter(f"one of {', '.join(CHANNELS)}", param_hint="--channel")
    return value


@notifications_app.command("dead-letters")
def dead_letters(
    channel: Annotated[str | None, typer.Option(help="email, sms, wecom or oa", callback=_channel)] = None,
    status: Annotated[list[str] | None, typer.Option(help="Status to list (repeatable; default dead and "
                                                          "in_doubt)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List deliveries given up (dead) or interrupted where a resend could deliver twice (in_doubt)."""
    if unknown := [s for s in status or () if s not in STATUSES]:
        raise typer.BadParameter(f"unknown status {unknown[0]!r}", param_hint="--status")
    wanted = cast(Sequence[Status], tuple(status or ("dead", "in_doubt")))
    with _running() as container:
        rows = container.notification_deliveries.dead_letters(statuses=wanted, channel=_channel(channel),
                                                              limit=limit)
    if as_json:
        print(json.dumps([{"key": r.key, "channel": r.channel, "recipient": r.recipient, "kind": r.kind,
                           "status": r.status, "attempts": r.attempts, "last_error": r.last_error,
                           "created_at": r.created_at.isoformat()} for r in rows], ensure_ascii=False))
        return
    table = Table("key", "channel", "status", "attempts", "created", "last error")
    for r in rows:
        table.add_row(r.key, r.channel, r.status, str(r.attempts), f"{r.created_at:%Y-%m-%d %H:%M}",
                      r.last_error or "")
    console.print(table)
    console.print(f"{len(rows)} deliver{'y' if len(rows) == 1 else 'ies'}"
                  + (f" (the first {limit}; --limit for more)" if len(rows) == limit else ""))


@notifications_app.command("retry")
def retry(
    key: Annotated[str | None, typer.Argument(help="The delivery's key (from dead-letters)")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead delivery (in_doubt ones are retried "
                                                              "one by one, knowingly)")] = False,
    channel: Annotated[str | None, typer.Option(help="With --all-dead: only this channel",
                                                callback=_channel)] = None,
) -> None:
    """Send dead letters again: back to pending, due now, attempts counted afresh."""
    from domain.shared.errors import DomainError

    if (key is None) == (not all_dead) or (channel and not all_dead):
        console.print("[red]give either a KEY or --all-dead [--channel C][/red]")
        raise typer.Exit(2)
    with _running() as container:
        deliveries = container.notification_deliveries
        if key is not None:
            try:
                row = deliveries.retry(key, by=CLI_ACTOR)
            except DomainError as exc:
                console.print(f"[red]{exc.message}[/red]")
                raise typer.Exit(1) from None
            console.print(f"{row.key}: pending, due now")
            return
        total = sum(n for (c, s), n in deliveries.counts().items() if s == "dead" and channel in (None, c))
        with _bar("putting dead letters back") as progress:
            task = progress.add_task("retry", total=total)
            done = deliveries.retry_dead(by=CLI_ACTOR, channel=_channel(channel),
                                         progress=lambda n: progress.update(task, completed=n))
            progress.update(task, completed=done, total=max(total, done))
    console.print(f"{done} dead deliver{'y' if done == 1 else 'ies'} back to pending")


@notifications_app.command("status")
def status() -> None:
    """The outbox by channel and status."""
    with _running() as container:
        counts = container.notification_deliveries.counts()
    table = Table("channel", *STATUSES)
    for name in sorted({c for c, _ in counts}):
        table.add_row(name, *(str(counts.get((name, s), 0)) for s in STATUSES))
    console.print(table)


@notifications_app.command("deliver")
def deliver() -> None:
    """One delivery pass by hand: interrupted sends first, then everything due now (the worker in
    `serve` and `worker` does this continuously)."""
    with _running() as container:
        notifier = container.notifier
        recovered = notifier.recover()
        sent = failed = dead = 0
        with console.status("delivering…") as progress:
            while outcome := notifier.tick():
                sent, failed, dead = sent + outcome["sent"], failed + outcome["failed"], dead + outcome["dead"]
                progress.update(f"delivered {sent}, failed {failed}, dead {dead}…")
                if sum(outcome.values()) < notifier.batch_size:
                    break
        notifier.stop()
    console.print(f"{sent} sent, {failed} to retry later, {dead} dead; interrupted: "
                  f"{recovered['pending']} sent again, {recovered['in_doubt']} in doubt")
