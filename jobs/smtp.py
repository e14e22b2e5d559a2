"""The SMTP client (aiosmtplib): one message per call over a fresh connection, STARTTLS or TLS,
credentials from the settings. Every failure becomes `MailFailure` with a message that names
what went wrong and never the password (aiosmtplib's errors carry the server's reply, which
never holds it: AUTH sends it base64-encoded and servers do not echo it)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from jobs.settings import SecretValue

# What the report job is given: send one message or raise MailFailure (tests pass their own
# SmtpMailer pointed at a local server; nothing patches aiosmtplib).
Mailer = Callable[[EmailMessage], Awaitable[None]]


class MailFailure(Exception):
    """The message was not accepted (or we cannot know that it was)."""


class SmtpSettings(Protocol):
    @property
    def smtp_host(self) -> str: ...
    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_security(self) -> str: ...
    @property
    def smtp_username(self) -> str: ...
    @property
    def smtp_password(self) -> SecretValue: ...
    @property
    def smtp_timeout(self) -> float: ...
    @property
    def smtp_ca_file(self) -> str: ...


class SmtpMailer:
    """`await SmtpMailer(settings)(message)`: connect, (STARTTLS), (AUTH), send, quit."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.settings.smtp_security == "none":
            return None
        return ssl.create_default_context(cafile=self.settings.smtp_ca_file or None)

    async def __call__(self, message: EmailMessage) -> None:
        s = self.settings
        password = s.smtp_password.get()
        try:
            # One overall bound on top of aiosmtplib's per-command timeout.
            async with asyncio.timeout(s.smtp_timeout * 3):
                await aiosmtplib.send(
                    message,
                    hostname=s.smtp_host,
                    port=s.smtp_port,
                    username=s.smtp_username or None,
                    password=password if s.smtp_username else None,
                    use_tls=s.smtp_security == "tls",
                    start_tls=s.smtp_security == "starttls",
                    tls_context=self._tls_context(),
                    timeout=s.smtp_timeout,
                )
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
            raise MailFailure(_describe(exc, password)) from None


def _describe(exc: BaseException, password: str) -> str:
    """The failure's class and text, with the password cut out should a server ever echo it."""
    text = str(exc).splitlines()[0][:200] if str(exc) else "no detail"
    if password:
        text = text.replace(password, "***")
    return f"{type(exc).__name__}: {text}"
