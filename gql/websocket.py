"""graphql-transport-ws with Herald's rules: the bearer token comes in `connection_init`
(missing or invalid → close 4401), viewers may subscribe, idle clients are pinged, and every
malformed frame gets the protocol's answer (close 4400 with a reason) instead of an exception
that drops the socket or an operation that never answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError

import metrics
from gql.errors import INTERNAL
from gql.shared import SharedStreams, Snapshot, stream_key
from gql.wellformed import has_lone_surrogate
from models.token import authenticate, is_active

PING_EVERY = 20.0
CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's payload is 125 bytes, 2 for the code


def _is_subscription(query: str, name: str | None) -> bool:
    try:
        operation = get_operation_ast(parse(query), name)
    except (GraphQLError, RecursionError):
        return False  # the usual path reports the syntax error (or the too-deep document)
    return operation is not None and operation.operation == OperationType.SUBSCRIPTION


def bearer(header: object) -> str:
    if not isinstance(header, str) or has_lone_surrogate(header):
        return ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def malformed(message: object) -> str | None:
    """What is wrong with a frame's shape (graphql-ws PROTOCOL.md), or None. strawberry indexes
    frames blindly: a null payload or a list as id raised, ending the connection without a close
    code, and a query that is not a string held an operation slot without ever answering."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "Message must be an object with a string type"
    kind, payload = message["type"], message.get("payload")
    if kind in ("subscribe", "complete"):
        op_id = message.get("id")
        if not isinstance(op_id, str) or not op_id:
            return f"{kind} needs a non-empty string id"
    if kind != "subscribe":
        return None if isinstance(payload, dict | None) else f"{kind} payload must be an object"
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "subscribe payload needs a string query"
    if not isinstance(payload.get("operationName"), str | None):
        return "subscribe operationName must be a string"
    for name in ("variables", "extensions"):
        if not isinstance(payload.get(name), dict | None):
            return f"subscribe {name} must be an object"
    return None


def close_reason(reason: str) -> str:
    """Reasons echo client input (an operation name, a message type): cut to what a close frame
    holds, and lone surrogates replaced so the reason encodes."""
    return reason.encode("utf-8", "replace")[:CLOSE_REASON_BYTES].decode("utf-8", "ignore")


class SafeCloseWebSocketAdapter(ASGIWebSocketAdapter):
    async def close(self, code: int, reason: str) -> None:
        await super().close(code, close_reason(reason))

    async def send_frame(self, text: str) -> None:
        """A message already encoded (a shared stream's `next`, gql/shared.py)."""
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


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
        caller = await authenticate(bearer(header), settings.api_admin_token.get())
        if caller is None:
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        self.context.sign_in(caller)
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.ping_task is None:
            self.ping_task = asyncio.create_task(self._ping())

    async def handle_message(self, message: Message) -> None:
        if problem := malformed(message):
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """strawberry's limit error has no code; the limit itself is the same. A connection
        whose token was revoked since its connection_init is closed (4401) instead."""
        if await self._revoked():
            await self.websocket.close(code=4401, reason="Token revoked")
            return
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            error = GraphQLError(
                f"at most {limit} operations may run at once on one connection",
                extensions={"code": "BAD_USER_INPUT"},
            )
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        await super().handle_subscribe(message)

    async def _revoked(self) -> bool:
        caller = getattr(self.context, "caller", None)
        if caller is None or caller.token_id is None:
            return False  # not signed in yet (the usual path refuses it), or API_ADMIN_TOKEN
        return not await is_active(caller.token_id)

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

        metrics.SUBSCRIPTIONS.inc()
        try:
            source = shared.follow(key, start)
            async with aclosing(source):
                await self._send_shared(operation, source)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except _OperationStreamClosed:
            return
        except Exception as error:
            # A bug, not the client's doing: logged with its traceback (as strawberry does for
            # unshared operations), answered, and the operation's slot freed.
            await self.handle_task_exception(error)
            internal = GraphQLError("Internal server error", extensions={"code": INTERNAL})
            with contextlib.suppress(Exception):
                await operation.send_initial_errors([internal])
            self.operations.pop(operation.id, None)
        finally:
            metrics.SUBSCRIPTIONS.dec()

    async def _send_shared(
        self, operation: Operation[Any, None], source: AsyncIterator[Snapshot]
    ) -> None:
        """strawberry's `_send_result_stream` for a shared stream: the same answers to a
        first pre-execution error and to incremental results, and each `next` as the
        snapshot's frame, rendered once for every follower (SafeCloseWebSocketAdapter)."""
        first = True
        async for snapshot in source:
            result = snapshot.result
            if first and isinstance(result, PreExecutionError):
                await self._handle_pre_execution_error(operation, result)
                return
            if not isinstance(result, ExecutionResult):
                await self._reject_incremental_delivery(operation)
                return
            first = False
            if operation.completed:
                continue  # as send_operation_message: nothing after complete or error
            adapter = self.websocket
            if isinstance(adapter, SafeCloseWebSocketAdapter):
                await adapter.send_frame(snapshot.frame(operation.id, self.view.encode_json))
            else:
                await operation.send_next(result)

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
