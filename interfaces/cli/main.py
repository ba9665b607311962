"""The ``ledgerflow`` command line."""
from __future__ import annotations

import json
import logging
import signal
import threading
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.table import Table

from interfaces.cli.common import _bar, _running, _settings, console
from interfaces.cli.notifications import notifications_app

app = typer.Typer(help="Ledgerflow: approval flows, leads, image archive, audit.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
projections_app = typer.Typer(help="Inspect and rebuild projections.", no_args_is_help=True)
audit_app = typer.Typer(help="Replay and verify the event history.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
app.add_typer(audit_app, name="audit")
customers_app = typer.Typer(help="The customer directory (from the account-opening system).", no_args_is_help=True)
app.add_typer(customers_app, name="customers")
leads_app = typer.Typer(help="Leads (渠道2.0): import, recycling, replay checks, account-opening feed.",
                        no_args_is_help=True)
app.add_typer(leads_app, name="leads")
archive_app = typer.Typer(help="The image archive: integrity scan, static mount, cloud sync, export, purge.",
                          no_args_is_help=True)
app.add_typer(archive_app, name="archive")
app.add_typer(notifications_app, name="notifications")


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
                      e.occurred_at.isoformat(timespec="seconds"), e.actor or "", e.business_line or "", changes)
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


@customers_app.command("sync")
def customers_sync(
    source: Annotated[str | None, typer.Option(help="http(s) URL of the account-opening system or a JSON "
                                                        "file (default LEDGERFLOW_CUSTOMER_DIRECTORY)")] = None,
) -> None:
    """Import customer profiles; every new or changed customer is recorded as an event."""
    from domain.shared.context import CommandContext
    from infrastructure.forms.customers import directory_from_setting

    with _running() as container:
        directory = directory_from_setting(source or container.settings.customer_directory,
                                           container.settings.data_dir)
        with console.status("syncing customers…") as status:
            counts = container.forms.sync_customers(CommandContext.system("customer-sync"), directory.customers(),
                                                    lambda n: status.update(f"synced {n} customers…"))
        console.print(f"customers: {counts['registered']} registered, {counts['updated']} updated, "
                      f"{counts['unchanged']} unchanged")


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



@archive_app.command("scan")
def archive_scan(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Re-hash every stored blob; report corrupted and missing ones (exit 1 when any)."""
    with _running() as container:
        container.runners["archive.documents"].catch_up()
        expected = container.archive_queries.known_hashes()
        if as_json:
            report = container.archive.scan(expected)
        else:
            with _bar("re-hashing blobs") as progress:
                task = progress.add_task("scan", total=len(expected))
                report = container.archive.scan(expected, lambda done, total: progress.update(task, completed=done))
    if as_json:
        print(json.dumps(report.as_dict(), default=str))
    else:
        console.print(f"checked {report.checked}: {report.ok} ok, {len(report.corrupted)} corrupted, "
                      f"{len(report.missing)} missing, {len(report.orphans)} unreferenced")
        for item in report.corrupted:
            console.print(f"[red]corrupted[/red] {item['sha256']} (now {item['actual_sha256']}) used by "
                          f"{item['used_by']}")
        for item in report.missing:
            console.print(f"[red]missing[/red] {item['sha256']} used by {item['used_by']}")
    if not report.healthy:
        raise typer.Exit(1)


@archive_app.command("mount")
def archive_mount(source: Annotated[Path, typer.Argument(help="A folder or zip holding manifest.csv and the files")],
                  report_file: Annotated[Path | None, typer.Option("--report", help="Write the per-file report "
                                                                                    "(JSON) here")] = None) -> None:
    """静态资料挂载: import historical loose documents in bulk, with a progress bar and a per-file report."""
    from domain.shared.context import CommandContext
    from domain.shared.errors import DomainError

    with _running() as container:
        try:
            with _bar("mounting") as progress:
                task = progress.add_task("mount", total=None)
                report = container.archive.mount(CommandContext.system("archive-mount"), source,
                                                 lambda done, total: progress.update(task, completed=done, total=total))
        except DomainError as exc:
            console.print(f"[red]refused:[/red] {exc.message}")
            raise typer.Exit(2) from None
    if report_file:
        report_file.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    table = Table("file", "status", "document / error")
    for f in report.files:
        table.add_row(f["filename"], f["status"], f.get("document_id") or f.get("error", ""))
    console.print(table)
    console.print(f"{report.imported} imported, {report.failed} failed of {report.total}")
    if report.failed:
        raise typer.Exit(1)


@archive_app.command("sync")
def archive_sync(source: Annotated[Path, typer.Argument(help="A cloud-platform batch: folder or zip with "
                                                              "manifest.json")]) -> None:
    """云平台影像同步: import one cloud-platform batch and list the anomalies its check found."""
    from domain.shared.context import CommandContext
    from domain.shared.errors import DomainError
    from infrastructure.archive.cloud import CloudBatchError, open_batch

    with _running() as container:
        try:
            container.runners["archive.documents"].catch_up()  # duplicates are judged against the read model
            with open_batch(source) as batch, _bar(f"batch {batch.batch_id}") as progress:
                task = progress.add_task("sync", total=len(batch.entries()))
                report = container.archive.import_batch(CommandContext.system("archive-cloud-sync"), batch,
                                                        container.archive_queries.is_duplicate,
                                                        lambda done, total: progress.update(task, completed=done))
        except (DomainError, CloudBatchError) as exc:
            console.print(f"[red]refused:[/red] {getattr(exc, 'message', exc)}")
            raise typer.Exit(2) from None
    console.print(f"batch {report['batch_id']}: {report['imported']} imported, {report['anomalies']} anomalies")
    for e in report["entries"]:
        if e["status"] == "anomaly":
            console.print(f"  #{e['index']} {e['file']}: [yellow]{e['anomaly']}[/yellow] {e['detail']}")


@archive_app.command("export")
def archive_export(
    out: Annotated[Path, typer.Option(help="Where to write the zip")],
    customer: Annotated[list[str] | None, typer.Option(help="Customer (repeatable)")] = None,
    business_type: Annotated[list[str] | None, typer.Option(help="Business type (repeatable)")] = None,
    category: Annotated[list[str] | None, typer.Option(help="Category (repeatable)")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    rule_key: Annotated[str | None, typer.Option("--rule", help="A saved export rule instead")] = None,
    purpose: Annotated[str, typer.Option(help="Why (recorded on the ExportProduced event)")] = "",
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists")] = False,
) -> None:
    """导出规则: produce a regulator package (zip + manifest.csv/json + SHA256SUMS); the export is audited."""
    import shutil

    if (out.exists() or out.is_symlink()) and not force:
        console.print(f"[red]refused:[/red] {out} exists; pass --force to overwrite it")
        raise typer.Exit(2)

    from domain.archive.rules import ExportRule
    from domain.shared.context import CommandContext
    from domain.shared.errors import DomainError

    with _running() as container:
        everything = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
        try:
            container.runners["archive.documents"].catch_up()
            line = None
            if rule_key:
                saved = container.archive.rule(rule_key)
                rule, line = ExportRule.parse(saved.rule), saved.business_line
            else:
                rule = ExportRule.parse({"customers": customer or [], "business_types": business_type or [],
                                         "categories": category or [], "date_from": date_from, "date_to": date_to})

            def select(r: ExportRule, limit: int) -> list[dict]:
                scope = everything if line is None else {**everything, "all_lines": False, "lines": [line]}
                return container.archive_queries.for_export(
                    scope, customers=list(r.customers), business_types=list(r.business_types),
                    categories=list(r.categories), date_from=r.date_from, date_to=r.date_to,
                    include_deleted=r.include_deleted, limit=limit)

            result, export = container.archive.produce(CommandContext.system("archive-export-cli"), rule,
                                                               rule_key, line, purpose, select)
            with container.archive.blobs.open(export.zip_sha256) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        except DomainError as exc:
            console.print(f"[red]refused:[/red] {exc.message}")
            raise typer.Exit(2) from None
    console.print(f"export {result.id}: {export.count} documents, sha256 {export.zip_sha256} -> {out}")


@archive_app.command("purge")
def archive_purge() -> None:
    """Purge the content of deleted documents whose retention period has run out (each purge is an event)."""
    from datetime import datetime, timezone

    from domain.shared.context import CommandContext

    with _running() as container:
        container.runners["archive.documents"].catch_up()
        queries = container.archive_queries
        purged = container.archive.purge_due(CommandContext.system("archive-retention"), queries.purge_candidates(),
                                             datetime.now(timezone.utc), queries.referenced,
                                             container.runners["archive.documents"].catch_up)
    console.print(f"{len(purged)} document(s) purged")


if __name__ == "__main__":
    app()
