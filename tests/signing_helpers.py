"""What the e-signature tests share: an agreement in the archive (a real PDF, as the agreement
generator would file it), the e_sign hook's request for it, a test clock and a recording
``on_complete``."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

from application.archive.filing import Filing
from application.flows.system_hooks import HookRequest
from domain.shared.context import CommandContext
from interfaces.demo_archive import pdf

SETUP = CommandContext("admin:bootstrap", "signing-setup")
TENANT = "91350100M000100Y43"   # the tenant's USCC: the customer the agreement is filed under
SIGNER = "王小明"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


class Completions:
    """A real recording function in the shape of the flow's complete_system_task callback."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, request_id: str, status: str, result: dict[str, Any]) -> None:
        self.calls.append((request_id, status, result))


def archived_agreement(container: Any, department_id: UUID | None, text: str = "Tenant agreement 2026-001") -> UUID:
    uploaded = container.archive.upload(
        SETUP, [pdf(text)], filename="租户协议.pdf", declared_type="application/pdf",
        filing=Filing(customer=TENANT, fund_account=None, business_line="brokerage", department_id=department_id,
                      business_type="tenant_signing", category="agreement"))
    return uploaded.result.id


def hook_request(document_id: UUID, department_id: UUID | None, *, instance_id: UUID | None = None,
                 expires_hours: int | None = None) -> HookRequest:
    instance_id = instance_id or uuid4()
    params: dict[str, Any] = {"document_from": "generate_contract", "signer_name_field": "basic.contact_name",
                              "customer_field": "basic.uscc"}
    if expires_hours is not None:
        params["expires_hours"] = expires_hours
    return HookRequest(instance_id=instance_id, request_id=f"{instance_id}:t-sign", node="tenant_sign",
                       hook="e_sign", params=params, form={"basic": {"contact_name": SIGNER, "uscc": TENANT}},
                       business_type="tenant_signing", business_line="brokerage", department_id=department_id,
                       initiator="operator:sam", subject="institution", fund_account=None,
                       outputs={"generate_contract": {"document_id": str(document_id)}})


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[-1]


def link_for(app: Any, waiting: Any, expires_hours: int | None = None) -> str:
    """The link SALES issues to send the tenant, for the signing request a hook's answer names (the
    answer itself never carries one)."""
    issued = app.reissue_link(SETUP, UUID(waiting.result["signing_request_id"]), reason="发给租户 sent to the tenant",
                              expires_hours=expires_hours)
    return str(issued.path)
