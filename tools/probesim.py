"""A probe API simulator: a real HTTP server with fault knobs, for tests, demos and benchmarks.

Fault decisions are made per request in a fixed order: down -> token (401) -> timeout -> 5xx ->
429 -> garbage -> 400 -> latency -> accept. Nothing is logged per request so it stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from aiohttp import web

OUTCOMES = ("ok", "5xx", "timeout", "garbage", "400", "429", "401", "down")
_OK = b'{"code": 0, "message": "OK"}'
_GARBAGE = (b"<html><body>Bad Gateway</body></html>", b'{"code": 1, "message": "busy"}')
_PHONE_MIN, _PHONE_MAX = 70_000_000_000, 79_999_999_999
_FLOAT_KNOBS = (
    *("latency_ms", "jitter_ms", "error_rate", "timeout_rate", "garbage_rate"),
    *("reject_rate", "throttle_rate", "hang_seconds"),
)


@dataclass
class SimConfig:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_seconds: float = 30.0
    garbage_rate: float = 0.0
    reject_rate: float = 0.0
    throttle_rate: float = 0.0
    token: str | None = field(default=None, repr=False)
    down: bool = False
    # Accept a request even when its client gave up waiting (a real server that does not
    # notice the disconnect): the case where a cut request was delivered but never recorded.
    finish_cut: bool = False
    downtime: list[tuple[float, float]] = field(default_factory=list)  # (start offset, duration)
    seed: int | None = None

    def public(self) -> dict[str, Any]:
        """The config as JSON, with ``token_set`` in place of the token."""
        data = asdict(self)
        data["token_set"] = data.pop("token") is not None
        data["downtime"] = [list(window) for window in self.downtime]
        return data


@dataclass
class Delivery:
    id: int
    phone: int
    text: str
    at: float  # first acceptance, UTC epoch seconds
    count: int = 1


@dataclass
class SimState:
    config: SimConfig
    rng: random.Random
    started: float = field(default_factory=time.monotonic)
    deliveries: dict[int, Delivery] = field(default_factory=dict)
    by_outcome: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    accepted: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    background: set[asyncio.Future[None]] = field(default_factory=set)  # finish_cut deliveries

    def reset(self) -> None:
        self.deliveries.clear()
        self.by_outcome.clear()
        self.requests = self.accepted = 0
        self.max_in_flight = self.in_flight

    def is_down(self) -> bool:
        if self.config.down:
            return True
        elapsed = time.monotonic() - self.started
        return any(start <= elapsed < start + length for start, length in self.config.downtime)

    def stats(self) -> dict[str, Any]:
        unique = len(self.deliveries)
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "unique_accepted": unique,
            "duplicates": self.accepted - unique,
            "by_outcome": {name: self.by_outcome[name] for name in OUTCOMES},
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }

    def record(self, msg_id: int, phone: int, text: str) -> None:
        self.accepted += 1
        known = self.deliveries.get(msg_id)
        if known is None:
            self.deliveries[msg_id] = Delivery(msg_id, phone, text, time.time())
        else:
            known.count += 1


STATE = web.AppKey("probesim_state", SimState)


def _json(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    body = json.dumps({"code": status, "message": message}).encode()
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _parse_send(msg_id: str, raw: bytes) -> tuple[int, int, str] | None:
    """(id, phone, text) if the body obeys the contract, else None."""
    try:
        data = json.loads(raw)
        wanted = int(msg_id)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    ident, phone, text = data.get("id"), data.get("phone"), data.get("text")
    if type(ident) is not int or ident != wanted or not isinstance(text, str):
        return None
    if type(phone) is not int or not _PHONE_MIN <= phone <= _PHONE_MAX:
        return None
    return ident, phone, text


def _hit(state: SimState, rate: float) -> bool:
    return rate > 0 and state.rng.random() < rate


async def _faults(state: SimState, request: web.Request) -> web.Response | None:
    """The first fault that applies to this request, in the documented order."""
    cfg = state.config
    if state.is_down():
        return _fail(state, "down", _json(503, "service unavailable"))
    if cfg.token is not None and request.headers.get("Authorization") != f"Bearer {cfg.token}":
        return _fail(state, "401", _json(401, "unauthorized"))
    if _hit(state, cfg.timeout_rate):
        state.by_outcome["timeout"] += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), cfg.hang_seconds)
        return _json(504, "gateway timeout")
    if _hit(state, cfg.error_rate):
        return _fail(state, "5xx", _json(500, "internal error"))
    if _hit(state, cfg.throttle_rate):
        return _fail(state, "429", _json(429, "too many requests", {"Retry-After": "1"}))
    if _hit(state, cfg.garbage_rate):
        body = state.rng.choice(_GARBAGE)
        return _fail(state, "garbage", web.Response(body=body, content_type="application/json"))
    return None


def _fail(state: SimState, outcome: str, response: web.Response) -> web.Response:
    state.by_outcome[outcome] += 1
    return response


async def _accept(state: SimState, request: web.Request) -> web.Response:
    parsed = _parse_send(request.match_info["msg_id"], await request.read())
    if parsed is None or _hit(state, state.config.reject_rate):
        return _fail(state, "400", _json(400, "bad request"))
    cfg = state.config
    delay = cfg.latency_ms + (
        state.rng.uniform(-cfg.jitter_ms, cfg.jitter_ms) if cfg.jitter_ms else 0
    )
    finish = _deliver(state, parsed, delay / 1000)
    if cfg.finish_cut:  # a disconnect cancels the handler, not the delivery
        await asyncio.shield(_keep(state, asyncio.ensure_future(finish)))
    else:
        await finish
    return web.Response(body=_OK, content_type="application/json")


async def _deliver(state: SimState, parsed: tuple[int, int, str], delay: float) -> None:
    if delay > 0:
        await asyncio.sleep(delay)
    state.record(*parsed)
    state.by_outcome["ok"] += 1


def _keep(state: SimState, task: asyncio.Future[None]) -> asyncio.Future[None]:
    state.background.add(task)
    task.add_done_callback(state.background.discard)
    return task


async def send_handler(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.requests += 1
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        return await _faults(state, request) or await _accept(state, request)
    finally:
        state.in_flight -= 1


async def stats_handler(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].stats())


async def deliveries_handler(request: web.Request) -> web.Response:
    records = [asdict(d) for d in request.app[STATE].deliveries.values()]
    return web.json_response({"deliveries": records})


async def get_config_handler(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].config.public())


async def put_config_handler(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        update = await request.json()
        apply_update(state.config, update)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    if "seed" in update:
        state.rng.seed(state.config.seed)
    return web.json_response(state.config.public())


async def reset_handler(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"reset": True})


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    number = float(value)
    if number < 0 or (name.endswith("_rate") and number > 1):
        raise ValueError(f"{name} out of range")
    return number


def _coerce(name: str, value: object) -> object:
    if name in ("down", "finish_cut"):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be a boolean")
        return value
    if name in ("token", "seed"):
        kind = str if name == "token" else int
        if value is not None and type(value) is not kind:
            raise ValueError(f"{name} must be a {kind.__name__} or null")
        return value
    if name == "downtime":
        if not isinstance(value, list):
            raise ValueError("downtime must be a list of [start, duration]")
        pairs = [w for w in value if isinstance(w, list | tuple) and len(w) == 2]
        if len(pairs) != len(value):
            raise ValueError("downtime must be a list of [start, duration]")
        return [(_number(name, s), _number(name, d)) for s, d in pairs]
    return _number(name, value)


def apply_update(config: SimConfig, update: object) -> None:
    """Validate a partial JSON update fully, then apply it (all or nothing)."""
    if not isinstance(update, dict):
        raise ValueError("body must be a JSON object")
    known = {f.name for f in fields(config)}
    unknown = sorted(set(update) - known)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    coerced = {name: _coerce(name, value) for name, value in update.items()}
    for name, value in coerced.items():
        setattr(config, name, value)


def create_app(config: SimConfig) -> web.Application:
    app = web.Application()
    app[STATE] = SimState(config=config, rng=random.Random(config.seed))  # noqa: S311
    app.router.add_post("/v1/send/{msg_id}", send_handler)
    app.router.add_get("/_sim/stats", stats_handler)
    app.router.add_get("/_sim/deliveries", deliveries_handler)
    app.router.add_get("/_sim/config", get_config_handler)
    app.router.add_put("/_sim/config", put_config_handler)
    app.router.add_post("/_sim/reset", reset_handler)
    return app


@dataclass
class RunningSim:
    app: web.Application
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def state(self) -> SimState:
        return self.app[STATE]

    async def stop(self) -> None:
        self.state.stopping.set()  # release requests hanging in a simulated timeout
        await self.runner.cleanup()
        for task in list(self.state.background):
            task.cancel()
        await asyncio.gather(*self.state.background, return_exceptions=True)


async def start_simulator(
    config: SimConfig, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
) -> RunningSim:
    """Start the simulator on ``host:port`` (port 0 picks a free one), or on a bound socket
    handed over by a supervisor (``sock``); downtime counts from now."""
    app = create_app(config)
    # handler_cancellation: a request whose client gave up (its deadline passed) is dropped,
    # not accepted afterwards, as a server that notices the disconnect would.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, handler_cancellation=True)
    await runner.setup()
    site: web.BaseSite = (
        web.SockSite(runner, sock, backlog=1024)
        if sock is not None
        else web.TCPSite(runner, host, port, backlog=1024)
    )
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    app[STATE].started = time.monotonic()
    bound_host, bound_port = runner.addresses[0][:2]
    return RunningSim(app=app, runner=runner, host=str(bound_host), port=int(bound_port))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="herald probe-sim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument(
        "--fd",
        type=int,
        metavar="N",
        help="serve on the bound socket inherited as file descriptor N (host and port ignored)",
    )
    for name in _FLOAT_KNOBS:
        default = getattr(SimConfig, name)
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=default)
    p.add_argument("--token-env", metavar="NAME", help="require the bearer token held in $NAME")
    p.add_argument("--down-after", type=float, metavar="S", help="go down S seconds after start")
    p.add_argument("--down-for", type=float, metavar="S", help="stay down for S seconds")
    p.add_argument("--seed", type=int)
    return p


def parse_args(
    argv: list[str] | None, environ: Mapping[str, str]
) -> tuple[SimConfig, str, int, int | None]:
    """(config, host, port, fd) from the command line; the token comes from the environment
    only."""
    parser = _parser()
    args = parser.parse_args(argv)
    token = None
    if args.token_env:
        token = environ.get(args.token_env)
        if not token:
            parser.error(f"--token-env: environment variable {args.token_env} is not set")
    if (args.down_after is None) != (args.down_for is None):
        parser.error("--down-after and --down-for go together")
    knobs = {k: getattr(args, k) for k in (*_FLOAT_KNOBS, "seed")}
    knobs["downtime"] = [] if args.down_after is None else [(args.down_after, args.down_for)]
    config = SimConfig(token=token)
    try:
        apply_update(config, knobs)
    except ValueError as exc:
        parser.error(str(exc))
    return config, args.host, args.port, args.fd


async def _serve(config: SimConfig, host: str, port: int, fd: int | None = None) -> None:
    sock = socket.socket(fileno=fd) if fd is not None else None
    sim = await start_simulator(config, host, port, sock=sock)
    print(f"probe-sim listening on {sim.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    """``herald probe-sim``: serve until SIGINT/SIGTERM."""
    config, host, port, fd = parse_args(argv, os.environ)
    asyncio.run(_serve(config, host, port, fd))
