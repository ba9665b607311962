"""Channels (渠道): creation, edits, intake tokens, landing pages."""
from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

from application.shared.base import CommandResult, Loader, command
from application.shared.tokens import token_hash
from domain.leads.channel import Channel, channel_id
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import AuthenticationError, NotFoundError


class Channels:
    load: Loader
    save_one: Callable[[LedgerAggregate], CommandResult]
    create_unique: Callable[[LedgerAggregate, str], CommandResult]
    require_department: Callable[[str, str], None]

    def channel(self, code: str) -> Channel:
        try:
            return self.load(channel_id(code), Channel)
        except NotFoundError:
            raise NotFoundError(f"channel {code!r} does not exist", field="channel") from None

    @command
    def create_channel(self, code: str, name: str, channel_type: str, promotion_type: str, business_line: str,
                       department_id: str) -> CommandResult:
        self.require_department(department_id, "department_id")
        return self.create_unique(Channel.create(code, name, channel_type, promotion_type, business_line,
                                                 department_id), f"channel {code!r}")

    @command
    def update_channel(self, code: str, name: str, channel_type: str, promotion_type: str, department_id: str,
                       enabled: bool, expected_version: int | None) -> CommandResult:
        self.require_department(department_id, "department_id")
        channel = self.load(channel_id(code), Channel, expected_version=expected_version)
        channel.update(name, channel_type, promotion_type, department_id, enabled)
        return self.save_one(channel)

    @command
    def issue_token(self, code: str) -> tuple[CommandResult, str]:
        """A new intake token for the channel (the previous one stops working). Shown once."""
        channel = self.channel(code)
        token = f"lfc_{code}.{secrets.token_urlsafe(24)}"
        channel.issue_token(token_hash(token))
        return self.save_one(channel), token

    @command
    def configure_landing_page(self, code: str, key: str, config: dict[str, Any]) -> CommandResult:
        channel = self.channel(code)
        channel.configure_landing_page(key, config)
        return self.save_one(channel)

    def authenticate_token(self, token: str) -> Channel:
        """The channel an intake token belongs to (token = lfc_<code>.<secret>)."""
        unknown = AuthenticationError("unknown channel token", code="unknown_channel_token")
        if not token.startswith("lfc_") or "." not in token or len(token) > 200:
            raise unknown
        code = token[4:].split(".", 1)[0]
        try:
            channel = self.channel(code)
        except NotFoundError:
            raise unknown from None
        if channel.token_hash is None or not hmac.compare_digest(channel.token_hash, token_hash(token)):
            raise unknown
        if not channel.enabled:
            raise AuthenticationError(f"channel {code!r} is disabled", code="channel_disabled")
        return channel

