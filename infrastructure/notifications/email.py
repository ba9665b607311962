"""E-mail over SMTP (smtplib): STARTTLS (default), implicit TLS or plain, with optional login.

SMTP has no idempotency key: the Message-ID is derived from the key (so a mail system or a
client that drops a repeated Message-ID will), but nothing guarantees it, hence
``dedup_seconds = 0``: an interrupted e-mail is never sent again by the worker (ADR 0015)."""
from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Literal

from domain.notifications.delivery import DeliveryError, Message, Receipt

SmtpSecurity = Literal["starttls", "ssl", "none"]
# Refusals that are about our login or the server's state, not the message: tried again later
# (an administrator fixes the credentials) instead of failing every message for good.
NOT_THE_MESSAGE = {421, 432, 450, 451, 452, 454, 530, 534, 535, 538}


def message_id(key: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ledgerflow.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


class SmtpMailer:
    dedup_seconds = 0.0

    def __init__(self, host: str, port: int, sender: str, *, security: SmtpSecurity = "starttls",
                 username: str | None = None, password: str | None = None, timeout: float = 10.0,
                 ca_file: Path | None = None):
        self.host, self.port, self.sender, self.security = host, port, sender, security
        self.username, self.password, self.timeout = username, password, timeout
        self.tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def compose(self, message: Message, key: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = message_id(key, self.sender)
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to a robot
        mail["Content-Language"] = message.language
        text = message.body
        if message.link and message.link not in text:  # the deep link (absolute: the projection's)
            text = f"{text}\n\n{message.link}"
        mail.set_content(text)
        return mail

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.tls)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=self.tls)
            return smtp
        except BaseException:
            smtp.close()
            raise

    def send(self, message: Message, idempotency_key: str) -> Receipt:
        mail = self.compose(message, idempotency_key)
        try:
            with self._connect() as smtp:
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b""))
            raise DeliveryError(f"SMTP refused the recipient: {code} {_text(reply)}", permanent=code >= 500) from None
        except smtplib.SMTPResponseException as exc:
            permanent = exc.smtp_code >= 500 and exc.smtp_code not in NOT_THE_MESSAGE
            raise DeliveryError(f"SMTP answered {exc.smtp_code} {_text(exc.smtp_error)}", permanent=permanent) from None
        except smtplib.SMTPException as exc:  # dropped, no STARTTLS or AUTH offered: not the message's fault
            raise DeliveryError(f"SMTP session failed: {type(exc).__name__}: {exc}") from None
        except OSError as exc:  # refused, timed out, TLS handshake failed
            raise DeliveryError(f"SMTP server unreachable: {type(exc).__name__}: {exc}") from None
        return Receipt(str(mail["Message-ID"]))


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply
