"""Import a cloud-platform batch and check it (自动检查异常): every listed file is hashed while it
is streamed in; a hash that differs from the manifest, a file that is not there, a customer the
directory does not know, content already archived for that customer, or content we refuse
becomes an anomaly listed for resolution instead of a document. The batch itself is an
aggregate keyed by its batch id, so importing the same batch twice is refused (409)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from application.archive.documents import Uploaded
from application.archive.filing import Filing, check_filing
from application.archive.mount import ROW_ERRORS
from application.shared.base import CommandResult, Loader, command
from domain.archive.content import CloudBatch, read_chunks
from domain.archive.rules import check_text
from domain.archive.sync import SyncBatch, SyncBatchClaim
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import AlreadyExistsError, DomainError, NotFoundError, RuleViolationError
from domain.shared.ids import natural_id


class _HashMismatch(Exception):
    pass


class _Duplicate(Exception):
    pass


def _text(value: Any) -> str | None:
    """A manifest value as stored on the batch: text or nothing, never a NUL."""
    if value is None or value == "":
        return None
    return str(value).replace("\x00", "\ufffd")[:500]


def _checked(stream: Any, expected: str, duplicate: Callable[[str], bool]) -> Iterator[bytes]:
    """Stream the file and fail at the end when its hash is not the manifest's, or when the
    content actually received (not the manifest's claim) is already archived for the customer:
    the staged copy is discarded, nothing is stored."""
    digest = hashlib.sha256()
    for chunk in read_chunks(stream):
        digest.update(chunk)
        yield chunk
    actual = digest.hexdigest()
    if actual != expected:
        raise _HashMismatch(f"the manifest says sha256 {(_text(expected) or '(none)')[:64]}, "
                            f"the file is {actual}")
    if duplicate(actual):
        raise _Duplicate()


class CloudSync:
    # From the host (LedgerApplication, Documents):
    load: Loader
    exists: Callable[[Any], bool]
    save_one: Callable[[Any], CommandResult]
    create_unique: Callable[[Any, str], CommandResult]
    upload: Callable[..., Uploaded]
    customer_exists: Callable[[str], bool]

    def import_batch(self, ctx: CommandContext, batch: CloudBatch, is_duplicate: Callable[[str, str, str], bool],
                     progress: Callable[[int, int], None] | None = None, *, department_id: Any = None,
                     allowed: Callable[[Filing], bool] | None = None) -> dict[str, Any]:
        """``is_duplicate(business_line, customer, sha256)`` looks within the batch's own business
        line only; ``allowed`` (the caller's scope) is asked per entry, which is an anomaly when it
        lies outside; documents are filed under ``department_id`` (the caller's department)."""
        if self.exists(natural_id("archive_sync_batch", batch.batch_id)):
            raise AlreadyExistsError(f"cloud batch {batch.batch_id!r} was already imported")
        if not batch.business_line:
            raise RuleViolationError("the batch manifest names no business_line", field="business_line")
        listed = batch.entries()
        with acting_as(ctx):  # reserve the batch id first: a concurrent import of it is a 409
            self.create_unique(SyncBatchClaim.claim(batch.batch_id, batch.business_line),
                                  f"cloud batch {batch.batch_id!r}")
        entries: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()  # (customer, sha256) imported by this batch
        for index, item in enumerate(listed, 1):
            name, account = item.get("file", ""), item.get("fund_account") or None
            customer = item.get("customer") or account
            expected = item.get("sha256", "")
            entry: dict[str, Any] = {"index": index, "file": _text(name) or "", "customer": _text(customer),
                                     "fund_account": _text(account)}

            def anomaly(kind: str, detail: str, entry: dict[str, Any] = entry) -> None:
                entry.update(status="anomaly", anomaly=kind, detail=_text(detail))

            bad = next((k for k in ("file", "sha256", "customer", "fund_account", "category", "title")
                        if item.get(k) is not None and not isinstance(item.get(k), str)), None)
            if bad is not None or "\x00" in "".join(str(item.get(k) or "") for k in ("file", "sha256")):
                anomaly("rejected_content", f"{bad or 'file'} must be text without NUL characters")
                entries.append(entry)
                continue
            expected = expected.lower()
            filing = Filing(customer=customer, fund_account=account, business_line=batch.business_line,
                            department_id=department_id, category=item.get("category") or "other")
            stream = None
            try:
                check_filing(filing)
                check_text(item.get("title"), "title")
                if allowed is not None and not allowed(filing):
                    raise RuleViolationError("this business line, department or account is outside your scope")
                stream = batch.open(name)
            except DomainError as exc:
                anomaly("rejected_content", exc.message)
            except ROW_ERRORS as exc:
                anomaly("rejected_content", f"cannot be read: {exc}")
            if "status" in entry:
                pass
            elif stream is None:
                anomaly("missing_file", "the manifest lists it but the batch does not hold it")
            elif not customer or not self.customer_exists(customer):
                stream.close()
                anomaly("unknown_customer", f"customer {customer!r} is not in the customer directory")
            else:
                def duplicate(actual: str, who: str = customer) -> bool:
                    return (who, actual) in seen or is_duplicate(batch.business_line, who, actual)

                try:
                    with stream:
                        got = self.upload(ctx, _checked(stream, expected, duplicate),
                                          filename=name.rsplit("/", 1)[-1], declared_type=None,
                                          source="cloud_sync", filing=filing,
                                          metadata={"title": item["title"]} if item.get("title") else {})
                    entry.update(status="imported", document_id=str(got.result.id))
                    seen.add((customer, got.sha256))
                except _HashMismatch as exc:
                    anomaly("hash_mismatch", str(exc))
                except _Duplicate:
                    anomaly("duplicate", "this content is already archived for the customer in this business line")
                except DomainError as exc:
                    anomaly("rejected_content", exc.message)
                except ROW_ERRORS as exc:
                    anomaly("rejected_content", f"cannot be read: {exc}")
            entries.append(entry)
            if progress:
                progress(index, len(listed))
        with acting_as(ctx):
            result = self.create_unique(SyncBatch.record(batch.batch_id, batch.source, batch.business_line, entries,
                                                            department_id), f"cloud batch {batch.batch_id!r}")
        counts = {"imported": sum(e["status"] == "imported" for e in entries),
                  "anomalies": sum(e["status"] == "anomaly" for e in entries)}
        return {"batch_id": batch.batch_id, "id": str(result.id), "position": result.position, **counts,
                "entries": entries}

    @command
    def resolve_anomaly(self, batch_id: str, index: int, resolution: str, note: str) -> CommandResult:
        try:
            batch = self.load(natural_id("archive_sync_batch", batch_id), SyncBatch)
        except NotFoundError:
            raise NotFoundError(f"cloud batch {batch_id!r} does not exist") from None
        batch.resolve(index, resolution, note)
        return self.save_one(batch)
