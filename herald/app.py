"""create_app: the Starlette routes (/graphql, /docs, /schema.graphql, /health) and the
lifespan that opens and closes the database and, later, the worker's clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import strawberry
from arq import create_pool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gql.context import Context
from gql.live import Hub
from gql.resolvers.live import read_snapshot
from gql.schema import build_schema
from gql.shared import SharedStreams
from gql.websocket import AuthenticatedTransportWS, bearer
from herald import db
from herald.clock import utc_now
from herald.events import Notifier, publish
from herald.settings import Settings
from jobs.start import enqueue_start
from jobs.worker import DeliveryWorker
from models.mailing import Mailing
from models.token import role_for
from tools.graphiql import assets_available, graphiql_html, static_route
from tools.redis_server import EmbeddedRedis, arq_settings

ROOT = Path(__file__).resolve().parent.parent
MAX_SUBSCRIPTIONS = 20
log = logging.getLogger("herald")


@dataclass
class AppState:
    settings: Settings
    migrate: bool = True
    manage_db: bool = True
    delivery: bool = False  # Redis (embedded if REDIS_URL is unset) and enqueueing of starts
    run_worker: bool = False  # an in-process arq worker with the send loop
    probe_sim: bool = False  # start the probe simulator in-process and send to it
    on_mailing_change: Callable[[int, Mailing | None], Awaitable[None]] | None = None
    hub: Hub | None = None
    shared_streams: SharedStreams = field(default_factory=SharedStreams)


def origin_allowed(scope: Scope, settings: Settings) -> bool:
    """Browsers send Origin on websockets: same-origin by default, else ALLOWED_ORIGINS
    (`*` allows any). Clients that send no Origin (scripts) are not browsers: allowed."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin", b"").decode("latin-1")
    if not origin or "*" in settings.allowed_origins or origin in settings.allowed_origins:
        return True
    host = headers.get(b"host", b"").decode("latin-1")
    return bool(urlsplit(origin).netloc == host)


class HeraldGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = AuthenticatedTransportWS

    def __init__(self, schema: strawberry.Schema, state: AppState) -> None:
        # Only graphql-transport-ws: the legacy graphql-ws protocol is refused (CVE-2026-35526).
        super().__init__(
            schema,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS,
        )
        self.state = state
        self.local_assets = assets_available(ROOT)
        self.shared_streams = state.shared_streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not origin_allowed(scope, self.state.settings):
            await send({"type": "websocket.close", "code": 4403, "reason": "Origin not allowed"})
            return
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Any, response: Any) -> Context:
        settings = self.state.settings
        role = await role_for(
            bearer(request.headers.get("authorization")), settings.api_admin_token.get()
        )
        return Context(
            settings=settings,
            role=role,
            request=request,
            response=response,
            clock=utc_now,
            on_mailing_change=self.state.on_mailing_change,
            hub=self.state.hub,
        )

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(graphiql_html(local=self.local_assets))


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await _too_large(self.limit)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(self.limit)(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {
            "errors": [
                {
                    "message": f"request body over {limit} bytes",
                    "extensions": {"code": "BAD_USER_INPUT"},
                }
            ]
        },
        status_code=413,
    )


@contextlib.asynccontextmanager
async def delivery(state: AppState) -> AsyncIterator[None]:
    """Redis (a private one when REDIS_URL is unset), the start-job enqueuer and, optionally,
    the probe simulator and an in-process worker; all stopped in reverse order on exit."""
    async with contextlib.AsyncExitStack() as stack:
        settings = state.settings
        if state.probe_sim:
            from tools.probesim import SimConfig, start_simulator  # only when asked to run it

            sim = await start_simulator(SimConfig(latency_ms=20, jitter_ms=10), port=0)
            stack.push_async_callback(sim.stop)
            settings = replace(settings, probe_url=sim.url)
            log.info("probe simulator on %s (PROBE_URL was not set)", sim.url)
        redis_url = settings.redis_url
        if not redis_url:
            embedded = await stack.enter_async_context(EmbeddedRedis(settings.data_dir))
            redis_url = embedded.url
            log.info("embedded Redis on %s (REDIS_URL was not set)", redis_url)
        pool = await create_pool(arq_settings(redis_url))
        stack.push_async_callback(pool.aclose)

        notifier = Notifier()
        stack.push_async_callback(notifier.aclose)  # before the pool it uses is closed

        async def changed(mailing_id: int, mailing: Mailing | None) -> None:
            """Called after the change is committed; returns at once. Losing the start job is
            harmless: the sweep starts due mailings from the database anyway."""
            if mailing is not None:
                notifier.spawn(
                    "enqueue the start job",
                    lambda: enqueue_start(pool, settings.queue_name, mailing),
                    mailing_id=mailing_id,
                )
            notifier.spawn(
                "publish the change",
                lambda: publish(pool, settings.queue_name, [mailing_id]),
                mailing_id=mailing_id,
            )

        state.on_mailing_change = changed
        state.hub = Hub(pool, settings.queue_name, read_snapshot)
        await state.hub.start()
        stack.push_async_callback(state.hub.stop)
        if state.run_worker:
            worker = DeliveryWorker(
                settings, arq_settings(redis_url), clock=utc_now, publish=publish
            )
            stack.push_async_callback(_stop_worker, worker, asyncio.create_task(worker.run()))
        yield


async def _stop_worker(worker: DeliveryWorker, task: asyncio.Task[None]) -> None:
    worker.stop()
    await task  # the drain: sends in flight answered and written


def create_app(state: AppState) -> ASGIApp:
    schema = build_schema()
    graphql = HeraldGraphQL(schema, state)
    sdl = schema.as_str() + "\n"

    async def schema_sdl(_: Request) -> PlainTextResponse:
        return PlainTextResponse(sdl)

    async def health(_: Request) -> JSONResponse:
        await Mailing.all().limit(1).values_list("id")
        return JSONResponse({"status": "ok"})

    async def docs(_: Request) -> RedirectResponse:
        return RedirectResponse("/graphql")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if state.manage_db:
                if state.migrate:
                    await db.migrate(state.settings.database_url)
                await db.connect(state.settings.database_url)
                stack.push_async_callback(db.disconnect)
            if state.delivery:
                await stack.enter_async_context(delivery(state))
            yield

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/docs", docs),
            Route("/", docs),
            Route("/schema.graphql", schema_sdl),
            Route("/health", health),
            static_route(ROOT),
        ],
        lifespan=lifespan,
    )
    return BodyLimit(app, state.settings.max_body_bytes)
