"""Import a cloud-platform batch and check it (自动检查异常): every listed file is hashed while it
is streamed in; a hash that differs from the manifest, a file that is not there, a customer the
directory does not know, content already archived for that customer, or content we refuse
becomes an anomaly listed for resolution instead of a document. The batch itself is an
aggregate keyed by its batch id, so importing the same batch twice is refused (409)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from application.archive.service import ArchiveApplication, Filing
from domain.archive.sync import SyncBatch
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import AlreadyExistsError, DomainError, NotFoundError, RuleViolationError
from domain.shared.ids import natural_id
from infrastructure.archive.blobs import read_chunks
from infrastructure.archive.cloud import CloudBatch


class _HashMismatch(Exception):
    pass


def import_batch(archive: ArchiveApplication, ctx: CommandContext, batch: CloudBatch,
                 is_duplicate: Callable[[str, str], bool],
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    if archive.exists(natural_id("archive_sync_batch", batch.batch_id)):
        raise AlreadyExistsError(f"cloud batch {batch.batch_id!r} was already imported")
    if not batch.business_line:
        raise RuleViolationError("the batch manifest names no business_line", field="business_line")
    entries, seen = [], set()
    listed = batch.entries()
    for index, item in enumerate(listed, 1):
        name = str(item.get("file", ""))
        account = item.get("fund_account") or None
        customer = item.get("customer") or account
        expected = str(item.get("sha256", "")).lower()
        entry: dict[str, Any] = {"index": index, "file": name, "customer": customer, "fund_account": account}

        def anomaly(kind: str, detail: str, entry: dict[str, Any] = entry) -> None:
            entry.update(status="anomaly", anomaly=kind, detail=detail)

        stream = batch.open(name)
        if stream is None:
            anomaly("missing_file", "the manifest lists it but the batch does not hold it")
        elif not customer or not archive.customer_exists(customer):
            stream.close()
            anomaly("unknown_customer", f"customer {customer!r} is not in the customer directory")
        elif (customer, expected) in seen or is_duplicate(customer, expected):
            stream.close()
            anomaly("duplicate", "this content is already archived for the customer")
        else:
            try:
                with stream:
                    got = archive.upload(ctx, _checked(stream, expected), filename=name.rsplit("/", 1)[-1],
                                         declared_type=None, source="cloud_sync",
                                         filing=Filing(customer=customer, fund_account=account,
                                                       business_line=batch.business_line,
                                                       category=item.get("category") or "other"),
                                         metadata={"title": item["title"]} if item.get("title") else {})
                entry.update(status="imported", document_id=str(got.result.id))
                seen.add((customer, expected))
            except _HashMismatch as exc:
                anomaly("hash_mismatch", str(exc))
            except DomainError as exc:
                anomaly("rejected_content", exc.message)
        entries.append(entry)
        if progress:
            progress(index, len(listed))
    with acting_as(ctx):
        result = archive.save_one(SyncBatch.record(batch.batch_id, batch.source, batch.business_line, entries))
    counts = {"imported": sum(e["status"] == "imported" for e in entries),
              "anomalies": sum(e["status"] == "anomaly" for e in entries)}
    return {"batch_id": batch.batch_id, "id": str(result.id), "position": result.position, **counts,
            "entries": entries}


def _checked(stream: Any, expected: str) -> Iterator[bytes]:
    """Stream the file and fail at the end when its hash is not the manifest's (the staged copy
    is discarded, nothing is stored)."""
    digest = hashlib.sha256()
    for chunk in read_chunks(stream):
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != expected:
        raise _HashMismatch(f"the manifest says sha256 {expected or '(none)'}, the file is {digest.hexdigest()}")


def resolve_anomaly(archive: ArchiveApplication, ctx: CommandContext, batch_id: str, index: int, resolution: str,
                    note: str) -> Any:
    try:
        batch = archive.load(natural_id("archive_sync_batch", batch_id), SyncBatch)
    except NotFoundError:
        raise NotFoundError(f"cloud batch {batch_id!r} does not exist") from None
    with acting_as(ctx):
        batch.resolve(index, resolution, note)
        return archive.save_one(batch)
