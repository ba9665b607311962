"""Where a document belongs (``Filing``, checked by every intake) and automatic archiving: a
completed flow's attachments filed under its customer and business."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from application.shared.base import command
from domain.archive.document import Document
from domain.archive.rules import check_category, check_code, check_identifier
from domain.shared.errors import NotFoundError, RuleViolationError


@dataclass(frozen=True)
class Filing:
    """Where a document belongs: customer (and fund account for account-level documents),
    business line, department, and the business it came from."""

    customer: str | None
    fund_account: str | None
    business_line: str
    department_id: UUID | None = None
    business_type: str | None = None
    flow_instance: UUID | None = None
    category: str = "other"


def check_filing(filing: Filing) -> None:
    """Every intake (upload, third-party API, mount, cloud sync) files through here: customer and
    fund account are plain identifiers, codes are codes, nothing carries a NUL."""
    check_category(filing.category)
    check_identifier(filing.customer, "customer")
    check_identifier(filing.fund_account, "fund_account")
    check_code(filing.business_line, "business_line")
    check_code(filing.business_type, "business_type")
    if filing.fund_account and filing.customer and filing.customer != filing.fund_account:
        # The customer directory knows customers by fund account only (ADR 0009): an account-level
        # document of a fund account belongs to that account's customer, nobody else.
        raise RuleViolationError("an account-level document's customer is its fund account's customer "
                                 f"({filing.fund_account})", field="customer")


def _belongs(document: Document, business_line: str | None, customer: str | None,
             fund_account: str | None) -> bool:
    """Whether a completed flow may file this document: same business line, and the document is
    unfiled or already filed under the flow's customer / fund account."""
    if business_line is None or document.business_line != business_line:
        return False
    if document.customer is not None and document.customer != (customer or fund_account):
        return False
    return document.fund_account is None or document.fund_account == fund_account


class FlowFiling:
    # From the host (LedgerApplication, Documents):
    save_all: Callable[..., int]
    document: Callable[..., Document]

    @command
    def file_flow_attachments(self, flow_instance: UUID, document_ids: list[UUID], *, customer: str | None,
                              fund_account: str | None, business_type: str, department_id: UUID | None,
                              business_line: str | None = None) -> dict[str, list[str]]:
        """File every attachment of a completed flow instance under its customer and business.
        Idempotent per (document, instance): a replay records nothing new.

        Form data is the applicant's input, so a referenced document id proves nothing: only a
        document of the flow's own business line, not yet filed under another customer or fund
        account, is filed; any other is reported ``foreign`` and left untouched."""
        outcome: dict[str, list[str]] = {"filed": [], "already": [], "missing": [], "foreign": []}
        changed = []
        for document_id in dict.fromkeys(document_ids):
            try:
                document = self.document(document_id)
            except NotFoundError:
                outcome["missing"].append(str(document_id))
                continue
            if not _belongs(document, business_line, customer, fund_account):
                outcome["foreign"].append(str(document_id))
            elif document.file_under(flow_instance, customer, fund_account, business_type, department_id):
                changed.append(document)
                outcome["filed"].append(str(document_id))
            else:
                outcome["already"].append(str(document_id))
        if changed:
            self.save_all(*changed)
        return outcome
