"""The channel adapters the settings configure: a gateway where one is set, else (development and
test modes) a JSON-lines file sink. In production every enabled channel has its gateway — the
settings refuse to start otherwise — so only channels the firm has not enabled go unserved (rows
queued before one was disabled wait as ``pending``; docs/notification-delivery.md)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

from domain.notifications.delivery import CHANNELS, Channel
from infrastructure.notifications.email import SmtpMailer, SmtpSecurity
from infrastructure.notifications.oa import OaWebhook
from infrastructure.notifications.recipients import parse_userids
from infrastructure.notifications.sink import FileSink
from infrastructure.notifications.sms import HttpSmsGateway, SmsAuth
from infrastructure.notifications.wecom import WeComApp
from infrastructure.settings import Mode, Settings

log = logging.getLogger(__name__)


def sink_dir(settings: Settings) -> Path:
    return settings.notify_sink_dir or settings.data_dir / "notifications"


def delivery_channels(settings: Settings) -> dict[str, Channel]:
    s = settings
    timeout = s.notify_timeout_seconds
    channels: dict[str, Channel] = {}
    if s.notify_smtp_host:
        password = s.notify_smtp_password.get_secret_value() if s.notify_smtp_password else None
        channels["email"] = SmtpMailer(s.notify_smtp_host, s.notify_smtp_port, s.notify_smtp_from,
                                       security=cast(SmtpSecurity, s.notify_smtp_security),
                                       username=s.notify_smtp_username, password=password, timeout=timeout,
                                       ca_file=s.notify_smtp_ca_file)
    if s.notify_sms_url and s.notify_sms_secret:
        channels["sms"] = HttpSmsGateway(s.notify_sms_url, s.notify_sms_secret.get_secret_value(),
                                         auth=cast(SmsAuth, s.notify_sms_auth), timeout=timeout)
    if s.notify_wecom_corp_id and s.notify_wecom_secret and s.notify_wecom_agent_id is not None:
        channels["wecom"] = WeComApp(s.notify_wecom_corp_id, s.notify_wecom_secret.get_secret_value(),
                                     s.notify_wecom_agent_id, base_url=s.notify_wecom_base_url,
                                     duplicate_check_seconds=s.notify_wecom_duplicate_check_seconds,
                                     timeout=timeout)
    if s.notify_oa_url and s.notify_oa_secret:
        channels["oa"] = OaWebhook(s.notify_oa_url, s.notify_oa_secret.get_secret_value(), timeout=timeout)
    unserved = [name for name in CHANNELS if name not in channels]
    if s.mode is Mode.production:
        if unserved:
            log.info("notification channels not enabled, not served: %s", ", ".join(unserved))
    else:
        for name in unserved:
            channels[name] = FileSink(sink_dir(s) / f"{name}.jsonl")
    return channels


def wecom_userids(settings: Settings) -> dict[str, str]:
    return parse_userids(settings.notify_wecom_userids)
