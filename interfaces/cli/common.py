"""What every ``ledgerflow`` command shares: the console, settings, a started container, the
progress bar."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from infrastructure.settings import Settings

if TYPE_CHECKING:  # imported lazily at run time, to keep `version` instant
    from interfaces.bootstrap import Container

console = Console()


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


def _container(workers: bool = False) -> Container:
    from interfaces.bootstrap import Container

    return Container.start(_settings(), workers=workers)


@contextmanager
def _running(workers: bool = False) -> Iterator[Container]:
    """A started container for one command, closed however the command ends."""
    container = _container(workers)
    try:
        yield container
    finally:
        container.close()


def _bar(description: str) -> Progress:
    """The progress bar of every long CLI job."""
    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console)
