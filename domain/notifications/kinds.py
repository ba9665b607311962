"""The kinds of notification, the channels they may go out on, the languages they are written in,
and the deterministic ids that make a replay write the same rows (ADR 0015)."""
from __future__ import annotations

from typing import Literal, get_args
from uuid import UUID, uuid5

from domain.shared.ids import NAMESPACE

Kind = Literal["task_arrived", "task_urged", "sla_warning", "sla_breached", "sla_escalated", "returned_to_you",
               "instance_approved", "instance_rejected", "instance_completed", "copied", "lead_assigned",
               "lead_account_opened", "rule_notice"]
KINDS: tuple[str, ...] = get_args(Kind)

# in_app is the read model (站内信); the others go through the outbox to the notifier.
Channel = Literal["in_app", "email", "sms", "wecom", "oa"]
CHANNELS: tuple[str, ...] = get_args(Channel)
IN_APP = "in_app"
EXTERNAL: tuple[str, ...] = tuple(c for c in CHANNELS if c != IN_APP)

Language = Literal["zh", "en"]
LANGUAGES: tuple[str, ...] = get_args(Language)
DEFAULT_LANGUAGE = "zh"

OPERATOR = "operator:"  # recipients are operators, named as events name them: operator:<login>


def is_operator(actor: str) -> bool:
    return actor.startswith(OPERATOR) and len(actor) > len(OPERATOR)


def notification_id(originator_id: UUID, version: int, recipient: str, kind: str) -> UUID:
    """One notification per (event, recipient, kind): a replay or a rebuild derives the same id."""
    return uuid5(NAMESPACE, f"notification:{originator_id}:{version}:{recipient}:{kind}")


def outbox_key(originator_id: UUID, version: int, recipient: str, channel: str) -> str:
    """The idempotency key of one external delivery (the outbox's primary key, the contract with
    the notifier): an event reaches a recipient on a channel at most once, whatever replays."""
    return f"{originator_id}:{version}:{recipient}:{channel}"
