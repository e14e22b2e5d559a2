"""Websocket clients for the graphql-transport-ws protocol, and the app behind a real uvicorn."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from herald.app import AppState, create_app
from herald.settings import Settings
from tests.support.engine import wait_for


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The app with its delivery engine (a private Redis) behind a real uvicorn: its ws URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(AppState(settings=settings, manage_db=False, delivery=True))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", ws_ping_interval=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: _started(server), timeout=20, what="uvicorn")
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server) -> bool:
    return bool(server.started)


async def open_ws(url: str, token: str | None, payload: Any = "auth") -> ClientConnection:
    ws = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")])
    if payload == "auth":
        payload = {"Authorization": f"Bearer {token}"}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws


async def acked(url: str, token: str) -> ClientConnection:
    ws = await open_ws(url, token)
    assert (await receive(ws))["type"] == "connection_ack"
    return ws


async def receive(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        return message
