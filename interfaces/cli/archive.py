"""``ledgerflow archive``: integrity scan, static mount, cloud sync, regulator export, retention purge."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from interfaces.cli.common import _bar, _running, console

archive_app = typer.Typer(help="The image archive: integrity scan, static mount, cloud sync, export, purge.",
                          no_args_is_help=True)


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
