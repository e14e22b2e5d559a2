"""graphql-transport-ws with Herald's rules: the bearer token comes in `connection_init`
(missing or invalid → close 4401), viewers may subscribe, idle clients are pinged."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import aclosing
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from gql.shared import SharedStreams, stream_key
from models.token import role_for

PING_EVERY = 20.0


def _is_subscription(query: str, name: str | None) -> bool:
    try:
        operation = get_operation_ast(parse(query), name)
    except GraphQLError:
        return False  # the usual path reports the syntax error
    return operation is not None and operation.operation == OperationType.SUBSCRIPTION


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

    async def run_operation(self, operation: Operation[Any, None]) -> None:
        """Subscriptions run once per distinct document and are shared (gql/shared.py);
        queries and mutations sent over the socket run as usual."""
        shared: SharedStreams | None = getattr(self.view, "shared_streams", None)
        if shared is None or not _is_subscription(operation.query, operation.operation_name):
            await super().run_operation(operation)
            return
        key = stream_key(operation.query, operation.variables, operation.operation_name)

        async def start() -> Any:
            return await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )

        try:
            source = shared.follow(key, start)
            async with aclosing(source):
                await self._send_result_stream(operation, source)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except _OperationStreamClosed:
            return

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
