"""create_app: the Starlette routes (/graphql, /docs, /schema.graphql, /health) and the
lifespan that opens and closes the database and, later, the worker's clients."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gql.context import Context, utc_now
from gql.schema import build_schema
from herald import db
from herald.graphiql import assets_available, graphiql_html, static_route
from herald.settings import Settings
from models.mailing import Mailing
from models.token import role_for

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class AppState:
    settings: Settings
    migrate: bool = True
    manage_db: bool = True
    on_mailing_change: Callable[[Mailing], Awaitable[None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def bearer(header: str | None) -> str:
    if not header:
        return ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class HeraldGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: strawberry.Schema, state: AppState) -> None:
        super().__init__(schema, subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,))
        self.state = state
        self.local_assets = assets_available(ROOT)

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
        if state.manage_db:
            if state.migrate:
                await db.migrate(state.settings.database_url)
            await db.connect(state.settings.database_url)
        try:
            yield
        finally:
            if state.manage_db:
                await db.disconnect()

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
