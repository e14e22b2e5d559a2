"""A real SMTP server (aiosmtpd, in its own thread and event loop) for the report's tests: it
keeps every message it accepted, can require STARTTLS and AUTH or speak implicit TLS, and can
hold a message at DATA until the test lets it go."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    authenticated_as: str | None


@dataclass
class Inbox:
    """aiosmtpd's handler: every accepted message, in order."""

    received: list[Received] = field(default_factory=list)
    hold: bool = False
    at_data: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.at_data.set()
        if self.hold:  # the test decides when, from its own thread
            await asyncio.to_thread(self.release.wait, 60)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data.login.decode() if session.auth_data else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, login))
        return "250 Message accepted"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (openssl), which the client trusts through
    SMTP_CA_FILE."""
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class SmtpServer:
    """`server.start()` … `server.stop()` on 127.0.0.1:port; `users` turns AUTH on (only
    after STARTTLS, aiosmtpd's default)."""

    def __init__(
        self,
        port: int,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.port, self.inbox = port, Inbox()
        self.users = users or {}
        kwargs: dict[str, Any] = {}
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
        if self.users:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=port,
            ssl_context=implicit_tls,
            server_hostname="127.0.0.1",
            **kwargs,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.inbox.release.set()
        self.controller.stop()
