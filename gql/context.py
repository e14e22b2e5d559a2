"""Per-request context: settings, the caller's role, the clock and the DataLoaders, all
passed in by the composition root (herald/app.py): gql/ never imports herald/."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gql.live import Hub
from gql.loaders import Loaders
from gql.usage import TokenUsage
from models.mailing import Mailing
from models.testsend import ProbeSend
from models.token import Caller, Role


class SecretValue(Protocol):
    def get(self) -> str: ...


class ApiSettings(Protocol):
    """The settings the API edge reads; herald/settings.py's Settings fits it. A new setting
    a resolver needs is added here too (mypy says so)."""

    @property
    def api_admin_token(self) -> SecretValue: ...


@dataclass
class Context:
    settings: ApiSettings
    role: Role | None
    clock: Callable[[], datetime]
    request: Any = None
    response: Any = None
    loaders: Loaders = field(default_factory=Loaders)
    on_mailing_change: Callable[[int, Mailing | None], Awaitable[None]] | None = None
    probe_send: ProbeSend | None = None  # testSend's one call to the probe, given by herald/
    hub: Hub | None = None
    connection_params: dict[str, object] | None = None
    caller: Caller | None = None  # the token: named in the audit log
    token_usage: TokenUsage | None = None
    # Reads the probe circuit (True: open), None when it cannot tell (no Redis, or Redis does
    # not answer); injected by herald/app.py. Read at most once per request.
    read_circuit: Callable[[], Awaitable[bool | None]] | None = None
    _circuit: bool | None = field(default=None, init=False, repr=False)

    def now(self) -> datetime:
        return self.clock()

    def sign_in(self, caller: Caller | None) -> None:
        """The request's (or the websocket's) caller, its role, and its token's last use
        (recorded in the background: gql/usage.py)."""
        self.caller, self.role = caller, caller.role if caller else None
        if caller is not None and self.token_usage is not None:
            self.token_usage.seen(caller, self.now())

    async def circuit_open(self) -> bool:
        """Whether the probe circuit is open, as far as can be told (unknown: closed)."""
        if self._circuit is None:
            known = await self.read_circuit() if self.read_circuit is not None else None
            self._circuit = bool(known)
        return self._circuit

    async def after_mailing_change(self, mailing_id: int, mailing: Mailing | None) -> None:
        """Let the delivery engine know (the one enqueue helper the API may call): schedule
        the start if the mailing is SCHEDULED, and announce the change to live watchers.
        Call it after the change is committed; the app's hook returns at once and does its
        Redis calls in the background (herald/events.py Notifier), so no answer waits on
        Redis."""
        if self.on_mailing_change is not None:
            await self.on_mailing_change(mailing_id, mailing)
