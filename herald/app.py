"""create_app: the Starlette routes (/graphql, /docs, /schema.graphql, /healthz, /readyz,
/health, /metrics, /export, the web UI at /) and the lifespan that opens and closes the
database and, later, the worker's clients."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import strawberry
from arq.connections import ArqRedis
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

import metrics
from gql.context import Context
from gql.http import JSON, Reply, graphql_reply, media_type_header, refused, response_media_type
from gql.live import Hub
from gql.resolvers.live import read_snapshots
from gql.schema import build_schema
from gql.shared import SharedStreams
from gql.usage import TokenUsage
from gql.websocket import AuthenticatedTransportWS, SafeCloseWebSocketAdapter, bearer
from herald import db, tree
from herald.clock import utc_now
from herald.events import Notifier, publish
from herald.export import ExportRoute
from herald.settings import Settings
from jobs.probe import ProbeClient
from jobs.probe_once import probe_sender
from jobs.start import enqueue_start
from jobs.worker import redis_client
from models import health
from models.mailing import Mailing
from models.testsend import ProbeSend
from models.token import authenticate
from models.waits import circuit_key
from tools.graphiql import assets_available, graphiql_html, static_route
from tools.redis_server import EmbeddedRedis, arq_settings
from tools.webui import ui_routes

ROOT = Path(__file__).resolve().parent.parent
MAX_SUBSCRIPTIONS = 20
log = logging.getLogger("herald")


@dataclass
class AppState:
    settings: Settings
    migrate: bool = True
    manage_db: bool = True
    delivery: bool = False  # Redis (embedded if REDIS_URL is unset) and enqueueing of starts
    workers: int = 0  # `herald worker` processes to supervise (herald/supervisor.py)
    probe_sim: bool = False  # run the probe simulator in its own process and send to it
    on_mailing_change: Callable[[int, Mailing | None], Awaitable[None]] | None = None
    probe_send: ProbeSend | None = None  # testSend's probe call (`delivery` makes one)
    hub: Hub | None = None
    redis: ArqRedis | None = None  # the pool of `delivery`, checked by /readyz
    clock: Callable[[], datetime] = utc_now
    shared_streams: SharedStreams = field(default_factory=SharedStreams)
    token_usage: TokenUsage = field(default_factory=TokenUsage)  # tokens' last use


def origin_allowed(scope: Scope, settings: Settings) -> bool:
    """Browsers send Origin on websockets: same-origin by default, else ALLOWED_ORIGINS
    (`*` allows any). Clients that send no Origin (scripts) are not browsers: allowed."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin", b"").decode("latin-1")
    if not origin or "*" in settings.allowed_origins or origin in settings.allowed_origins:
        return True
    host = headers.get(b"host", b"").decode("latin-1")
    return bool(urlsplit(origin).netloc == host)


class _Refused(HTTPException):
    """An HTTP-level refusal that carries an `Allow` header (405)."""

    def __init__(self, status_code: int, reason: str, allow: str | None = None) -> None:
        super().__init__(status_code, reason)
        self.allow = allow


SUBSCRIPTION_OVER_HTTP = (
    "subscriptions need a websocket: connect to /graphql with the graphql-transport-ws protocol"
)


def _reply_response(reply: Reply, media: str) -> Response:
    return Response(
        json.dumps(reply.body, separators=(",", ":")),
        status_code=reply.status,
        headers=reply.headers,
        media_type=media_type_header(media),
    )


class HeraldGraphQL(GraphQL[Context, None]):
    """strawberry's view with GraphQL-over-HTTP answers: every refusal is a coded JSON error in
    the negotiated media type (gql/http.py), never plain text or a 500."""

    graphql_transport_ws_handler_class = AuthenticatedTransportWS
    websocket_adapter_class = SafeCloseWebSocketAdapter

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
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            reply = refused(exc.reason, exc.status_code, getattr(exc, "allow", None))
            response = _reply_response(reply, response_media_type(request.headers.get("accept")))
        await response(scope, receive, send)

    async def get_context(self, request: Any, response: Any) -> Context:
        settings = self.state.settings
        context = Context(
            settings=settings,
            role=None,
            request=request,
            response=response,
            clock=self.state.clock,
            on_mailing_change=self.state.on_mailing_change,
            probe_send=self.state.probe_send,
            hub=self.state.hub,
            token_usage=self.state.token_usage,
            read_circuit=functools.partial(read_circuit, self.state),
        )
        if request.scope["type"] == "http":  # a websocket signs in with connection_init
            token = bearer(request.headers.get("authorization"))
            context.sign_in(await authenticate(token, settings.api_admin_token.get()))
        return context

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(graphiql_html(local=self.local_assets))

    def is_request_allowed(self, request: Any) -> bool:
        if super().is_request_allowed(request):
            return True
        raise _Refused(405, "GraphQL requests are GET or POST", allow="GET, POST")

    def decode_json(self, data: str | bytes) -> object:
        """UTF-8 only (the spec's request encoding; `json.loads` would guess UTF-16 or pass
        encoded surrogates through) and nesting within the decoder's limit: anything else is not
        JSON (HTTP 400, websocket 4400) rather than a UnicodeDecodeError or RecursionError."""
        try:
            return json.loads(data.decode() if isinstance(data, bytes) else data)
        except (UnicodeDecodeError, RecursionError) as exc:
            raise json.JSONDecodeError(type(exc).__name__, "", 0) from None

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """strawberry reads the body's JSON with `.get`: `42`, `"x"` or `null` would be a 500.
        A body starting with `{` or `[` is an object, an array (a batch, refused by strawberry)
        or not JSON at all, so only other bodies are decoded here, once more."""
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method == "POST" and "application/json" in content_type:
            body = await request.get_body()
            if not body.lstrip(b" \t\r\n").startswith((b"{", b"[")):
                if not isinstance(self.parse_json(body), dict | list):
                    raise HTTPException(400, "The request body must be a JSON object")
        return await super().parse_http_body(request)

    async def execute_single(
        self,
        request: Any,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Any,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """strawberry's, minus subscriptions: over HTTP it would run one as a query (a null in a
        non-null field, a logged traceback). A mutation over GET is the spec's 405."""
        method = request_adapter.method
        allowed = OperationType.from_http(method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type == OperationType.MUTATION:
                raise _Refused(405, "mutations need POST", allow="POST") from None
            raise HTTPException(400, SUBSCRIPTION_OVER_HTTP) from None
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from None
        except MissingQueryError:
            raise HTTPException(400, "No GraphQL query found in the request") from None

    async def get_sub_response(self, request: Any) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_media_type(request.headers.get("accept"))
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media = sub_response.media_type or JSON
        if isinstance(response_data, list):  # a batch; batching is off in Herald's schema
            response = Response(self.encode_json(response_data), media_type=JSON)
        else:
            response = _reply_response(graphql_reply(dict(response_data), media), media)
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0")
        too_large = _too_large(self.limit, headers.get(b"accept", b"").decode("latin-1"))
        if declared.isdigit() and int(declared) > self.limit:
            await too_large(scope, receive, send)
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
            await too_large(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def _too_large(limit: int, accept: str) -> Response:
    reply = refused(f"request body over {limit} bytes", 413)
    return _reply_response(reply, response_media_type(accept))


@contextlib.asynccontextmanager
async def delivery(state: AppState) -> AsyncIterator[None]:
    """Redis (a private one when REDIS_URL is unset), the start-job enqueuer and, optionally,
    the probe simulator's process and the worker processes; all stopped in reverse order on
    exit, so the workers drain while the Redis and the simulator they use are still there."""
    async with contextlib.AsyncExitStack() as stack:
        settings = state.settings
        children: dict[str, str] = {}  # what the worker processes use besides the environment
        if state.probe_sim:
            settings = replace(settings, probe_url=await tree.probe_sim(stack, settings))
            children["PROBE_URL"] = settings.probe_url
            log.info("probe simulator on %s (PROBE_URL was not set)", settings.probe_url)
        if state.probe_send is None:
            _test_send_probe(state, settings, stack)
        redis_url = settings.redis_url
        if not redis_url:
            embedded = await stack.enter_async_context(EmbeddedRedis(settings.data_dir))
            # Restarted whenever it dies (cancelled before it is stopped on exit).
            stack.push_async_callback(_cancel, asyncio.create_task(embedded.supervise()))
            redis_url = children["REDIS_URL"] = embedded.url
            log.info("embedded Redis on %s (REDIS_URL was not set)", redis_url)
        # Not arq's create_pool: it pings, retries for ~7 s and raises. The API serves
        # without Redis (mutations never wait on it; the workers' sweep starts due mailings
        # from the database), from the start as after Redis goes away later.
        pool = redis_client(arq_settings(redis_url), settings.queue_name, read_timeout=None)
        stack.push_async_callback(pool.aclose)
        state.redis = pool
        redis_answers = await _answers(pool)
        if not redis_answers:
            log.warning(
                "Redis (REDIS_URL) does not answer: the API runs without it; start jobs and "
                "live notifications resume once it answers (meanwhile the workers' sweep "
                "starts due mailings from the database)"
            )

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
        state.hub = Hub(pool, settings.queue_name, read_snapshots)
        stack.push_async_callback(state.hub.stop)
        if redis_answers:
            await state.hub.start()
        else:  # live watchers refresh every 3 s meanwhile; listen once Redis answers
            waiting = asyncio.create_task(_start_when_answering(pool, state.hub))
            stack.push_async_callback(_cancel, waiting)
        if state.workers:
            await tree.workers(stack, settings, state.workers, children)
        yield


def _test_send_probe(state: AppState, settings: Settings, stack: contextlib.AsyncExitStack) -> None:
    """testSend's own small probe client (each worker has its own), closed on exit."""
    probe = ProbeClient(
        settings.probe_url,
        settings.probe_token.get(),
        timeout=settings.probe_timeout,
        max_connections=4,
        clock=state.clock,
    )
    stack.push_async_callback(_forget_probe, state, probe)
    state.probe_send = probe_sender(probe)


async def _forget_probe(state: AppState, probe: ProbeClient) -> None:
    state.probe_send = None
    await probe.close()


REDIS_START_PING = 2.0  # seconds: how long `herald serve` waits for Redis at start


async def _answers(pool: ArqRedis) -> bool:
    try:
        async with asyncio.timeout(REDIS_START_PING):
            await pool.ping()
    except (RedisError, OSError, TimeoutError):
        return False
    return True


async def _start_when_answering(pool: ArqRedis, hub: Hub) -> None:
    while True:
        if await _answers(pool):
            log.warning("Redis answers: live notifications on")
            await hub.start()
            return
        await asyncio.sleep(REDIS_START_PING)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


LOOPBACK = frozenset({"127.0.0.1", "::1"})


def metrics_refusal(request: Request, settings: Settings) -> JSONResponse | None:
    """METRICS_ACCESS: `public`, `token` (the admin token, always) or `local` (the default:
    loopback clients, or the admin token from anywhere). Behind a proxy on the same host every
    client looks local: use `token` there."""
    if settings.metrics_access == "public":
        return None
    if settings.metrics_access == "local" and request.client and request.client.host in LOOPBACK:
        return None
    token, admin = bearer(request.headers.get("authorization")), settings.api_admin_token.get()
    if token and admin and secrets.compare_digest(token.encode(), admin.encode()):
        return None
    if not token:
        return JSONResponse(
            {"error": "/metrics needs the admin token", "code": "UNAUTHENTICATED"}, 401
        )
    return JSONResponse({"error": "this token may not read /metrics", "code": "FORBIDDEN"}, 403)


READY_TIMEOUT = 1.0  # seconds per readiness check: /readyz never hangs on a dependency


async def _check(probe: Callable[[], Awaitable[str | None]]) -> str:
    """ "ok", the problem a check names, or how it failed ("unreachable: TimeoutError")."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            problem = await probe()
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return problem or "ok"


CIRCUIT_READ_TIMEOUT = 0.5  # seconds: Message.waitingFor never waits longer on Redis


async def read_circuit(state: AppState) -> bool | None:
    """Whether the workers' probe circuit is open (their key in Redis); None when this
    process has no Redis or it does not answer in time (nothing about it is logged: /readyz
    reports Redis)."""
    if state.redis is None:
        return None
    try:
        async with asyncio.timeout(CIRCUIT_READ_TIMEOUT):
            return bool(await state.redis.exists(circuit_key(state.settings.queue_name)))
    except (RedisError, OSError, TimeoutError):
        return None


async def readiness(state: AppState) -> dict[str, str]:
    """The database answers, Redis answers (when this process uses it) and some worker's
    heartbeat is fresh: each check bounded by READY_TIMEOUT, all run at once."""

    async def database() -> None:
        await health.ping_database()

    async def redis() -> None:
        assert state.redis is not None
        await state.redis.ping()

    async def worker() -> str | None:
        age = await health.heartbeat_age(state.clock())
        return health.worker_problem(age, state.settings.sweep_interval)

    probes: dict[str, Callable[[], Awaitable[str | None]]] = {"database": database}
    if state.redis is not None:
        probes["redis"] = redis
    probes["worker"] = worker
    results = await asyncio.gather(*(_check(probe) for probe in probes.values()))
    return dict(zip(probes, results, strict=True))


def create_app(state: AppState) -> ASGIApp:
    schema = build_schema()
    graphql = HeraldGraphQL(schema, state)
    sdl = schema.as_str() + "\n"

    async def schema_sdl(_: Request) -> PlainTextResponse:
        return PlainTextResponse(sdl)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def metrics_route(request: Request) -> Response:
        refusal = metrics_refusal(request, state.settings)
        if refusal is not None:
            return refusal
        body, content_type = metrics.exposition()
        return Response(body, headers={"Content-Type": content_type})

    async def readyz(_: Request) -> JSONResponse:
        checks = await readiness(state)
        ready = all(result == "ok" for result in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

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
                stack.push_async_callback(state.token_usage.aclose)  # before the disconnect
            if state.delivery:
                await stack.enter_async_context(delivery(state))
            yield

    app = Starlette(
        routes=[
            Route("/graphql", graphql),  # any method: the view answers others with a JSON 405
            WebSocketRoute("/graphql", graphql),
            Route("/docs", docs),
            Route("/schema.graphql", schema_sdl),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/health", healthz),  # older name: liveness, as it always answered
            Route("/metrics", metrics_route),
            # CSV exports; an ASGI app, so every method reaches it (a JSON 405)
            Route("/export/mailings/{id}/{name}", ExportRoute(state.settings)),
            static_route(ROOT),
            *ui_routes(ROOT),  # the admin web UI at /
        ],
        lifespan=lifespan,
    )
    return BodyLimit(app, state.settings.max_body_bytes)
