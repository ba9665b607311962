"""The ``ledgerflow`` command line: the process commands (serve, worker, demo, version) here, one
module per command group (projections, audit, customers, leads, archive) and for backup/restore."""
from __future__ import annotations

import logging
import signal
import threading
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from typing import Annotated

import typer

from interfaces.cli.archive import archive_app
from interfaces.cli.audit import audit_app
from interfaces.cli.backup import backup, restore
from interfaces.cli.common import _running, _settings, console
from interfaces.cli.compliance import compliance_app
from interfaces.cli.customers import customers_app
from interfaces.cli.leads import leads_app
from interfaces.cli.notifications import notifications_app
from interfaces.cli.privacy import privacy_app
from interfaces.cli.projections import projections_app

app = typer.Typer(help="Ledgerflow: approval flows, leads, image archive, audit.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
app.add_typer(projections_app, name="projections")
app.add_typer(audit_app, name="audit")
app.add_typer(customers_app, name="customers")
app.add_typer(leads_app, name="leads")
app.add_typer(archive_app, name="archive")
app.add_typer(notifications_app, name="notifications")
app.add_typer(compliance_app, name="compliance")
app.command()(backup)
app.command()(restore)
app.add_typer(privacy_app, name="privacy")


@app.command()
def version() -> None:
    """Print the version."""
    try:
        console.print(dist_version("ledgerflow"))
    except PackageNotFoundError:
        console.print("unknown (not installed)")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default LEDGERFLOW_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default LEDGERFLOW_PORT)")] = None,
    demo: Annotated[bool, typer.Option(help="Load the demo data first (idempotent)")] = False,
) -> None:
    """Run the HTTP API with projection workers in one process (embedded engines by default)."""
    import uvicorn

    from interfaces.api.app import create_app_from_settings

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if demo:
        from interfaces.demo import load_demo

        with _running() as container:
            console.print(load_demo(container))
    uvicorn.run(create_app_from_settings(settings), host=host or settings.host, port=port or settings.port,
                log_level="info", access_log=False, server_header=False)


@app.command()
def worker() -> None:
    """Run projection workers only (production: scale them apart from the API)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with _running(workers=True) as container:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        console.print(f"projection workers running: {', '.join(container.runners)}")
        stop.wait()


@app.command()
def demo() -> None:
    """Load the demo data (idempotent: running it twice adds nothing)."""
    from interfaces.demo import load_demo

    with _running() as container:
        summary = load_demo(container)
        for runner in container.runners.values():
            runner.catch_up()
        console.print(summary)


if __name__ == "__main__":
    app()
