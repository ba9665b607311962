"""Recipients' addresses from the access context's read model (``access_operators``): e-mail and
phone as the operator's profile has them now, the WeCom userid (the login name unless mapped),
the OA login. Never from the outbox row, so a changed address or a disabled operator counts at
send time."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from uuid import UUID

from domain.notifications.delivery import ChannelName
from domain.shared.errors import DomainError
from domain.shared.ids import natural_id

OPERATOR = "operator:"


class OperatorRows(Protocol):
    def operator(self, operator_id: UUID) -> dict[str, Any] | None: ...


def parse_userids(text: str) -> dict[str, str]:
    """``"wang.fang=WangFang,li.lei=lilei01"``: login name to WeCom userid, where they differ."""
    pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
    return {login.strip(): userid.strip() for login, userid in pairs}


class AccessRecipients:
    def __init__(self, operators: OperatorRows, wecom_userids: Mapping[str, str] | None = None):
        self.operators = operators
        self.wecom_userids = dict(wecom_userids or {})

    def address(self, recipient: str, channel: ChannelName) -> str | None:
        if not recipient.startswith(OPERATOR):
            return None
        login = recipient[len(OPERATOR):]
        try:
            row = self.operators.operator(natural_id("operator", login))
        except DomainError:  # not a login any operator could have
            return None
        if row is None or row["status"] != "active" or row["login_name"] != login:
            return None
        if channel == "email":
            return row["email"] or None
        if channel == "sms":
            return row["phone"] or None
        if channel == "wecom":
            return self.wecom_userids.get(login, login)
        return login
