"""graphql-transport-ws with Herald's rules: the bearer token comes in `connection_init`
(missing or invalid → close 4401), viewers may subscribe, idle clients are pinged."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from models.token import role_for

PING_EVERY = 20.0


def bearer(header: object) -> str:
    if not isinstance(header, str):
        return ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class AuthenticatedTransportWS(BaseGraphQLTransportWSHandler[Any, None]):
    ping_task: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload") or {}
        header = (
            payload.get("Authorization") or payload.get("authorization")
            if isinstance(payload, dict)
            else None
        )
        settings = self.context.settings
        role = await role_for(bearer(header), settings.api_admin_token.get())
        if role is None:
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        self.context.role = role
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.ping_task is None:
            self.ping_task = asyncio.create_task(self._ping())

    async def _ping(self) -> None:
        """Protocol-level pings keep idle connections alive through proxies and reveal dead
        peers (a failed send ends the connection and its subscriptions)."""
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(PING_EVERY)
                await self.send_message({"type": "ping"})

    async def shutdown(self) -> None:
        if self.ping_task is not None:
            self.ping_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.ping_task
        await super().shutdown()
