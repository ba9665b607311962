"""业绩归属: who gets the credit when an account is opened (pure)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from domain.leads.binding import Binding
from domain.leads.lead import Lead


def _since(value: Any) -> datetime:
    """A candidate's since as an aware time: bindings recorded before strict validation may hold
    a date only (taken as midnight UTC) or garbage (ranked last), never a crash."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.max.replace(tzinfo=timezone.utc)
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def attribute(mode: str, lead: Lead, binding: Binding | None) -> dict[str, Any]:
    """业绩归属 on opening. Candidates: the 渠道1.0 binding (branch account manager / IB, with its
    bound_at) and the referral department (引流部门: where the lead was first assigned, and when).
    time: the earliest; branch: the binding when there is one; referral: the referral department
    when there is one. Either falls back to the other; neither: unattributed."""
    referral = None
    if lead.first_assigned is not None:
        referral = {"kind": "referral", "department_id": lead.first_assigned["department_id"],
                    "holder": lead.first_assigned["owner"], "since": lead.first_assigned["at"]}
    branch = None
    if binding is not None:
        branch = {"kind": binding.kind, "department_id": binding.department_id, "holder": binding.holder,
                  "since": binding.bound_at}
    candidates = [c for c in (branch, referral) if c is not None]
    if not candidates:
        chosen = None
    elif mode == "branch":
        chosen = branch or referral
    elif mode == "referral":
        chosen = referral or branch
    else:
        chosen = min(candidates, key=lambda c: _since(c["since"]))
    return {"mode": mode, "chosen": chosen, "candidates": candidates}

