"""Live statistics over graphql-transport-ws against a running server (real uvicorn, real
websockets), with the worker in another process."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin, Subprotocol

from herald.app import AppState, create_app
from models.changes import channel
from models.token import Role, create_token
from tests.support.delivery import all_final, clients, in_state, mailing
from tests.support.engine import Engine, wait_for
from tests.support.ws import receive as receive_message

MAILING_STATS = """subscription($id: ID!) { mailingStats(id: $id) {
  mailingId state total byStatus { status count } } }"""
OVERALL = "subscription { overallStats { mailings messages byStatus { status count } } }"


@dataclass
class Server:
    url: str
    state: AppState


@pytest.fixture
async def server(engine: Engine) -> AsyncIterator[Server]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = AppState(settings=engine.settings, manage_db=False, delivery=True)
    config = uvicorn.Config(
        create_app(state),
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="on",
        ws_ping_interval=None,
    )
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    await wait_for(lambda: _started(uv), timeout=10, what="uvicorn")
    yield Server(f"ws://127.0.0.1:{port}/graphql", state)
    uv.should_exit = True
    await task


async def _started(uv: uvicorn.Server) -> bool:
    return bool(uv.started)


async def open_ws(server: Server, token: str | None, **kwargs: Any) -> ClientConnection:
    ws = await connect(server.url, subprotocols=[Subprotocol("graphql-transport-ws")], **kwargs)
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws


async def receive(ws: ClientConnection, timeout: float = 20) -> dict[str, Any]:
    return await receive_message(ws, timeout)


async def subscribe(ws: ClientConnection, op_id: str, query: str, **variables: Any) -> None:
    await ws.send(
        json.dumps(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
    )


def by_status(stats: dict[str, Any]) -> dict[str, int]:
    return {s["status"]: s["count"] for s in stats["byStatus"]}


async def test_snapshot_updates_and_completion_with_worker_in_another_process(
    engine: Engine, server: Server
) -> None:
    await clients(engine, 400)
    engine.configure(latency_ms=100)
    viewer = await create_token(Role.VIEWER)
    mid = await mailing(engine, start=timedelta(seconds=2))
    ws = await open_ws(server, viewer)
    assert (await receive(ws))["type"] == "connection_ack"
    await subscribe(ws, "1", MAILING_STATS, id=str(mid))
    first = (await receive(ws))["payload"]["data"]["mailingStats"]
    assert first["state"] == "SCHEDULED" and first["total"] == 0
    env = {
        **os.environ,
        **engine.env,
        "QUEUE_NAME": engine.queue,
        "MAX_IN_FLIGHT": "20",
        "LOG_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "herald.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    events = [first]
    try:
        while True:
            message = await receive(ws, timeout=60)
            if message["type"] == "complete":
                break
            assert message["type"] == "next", message
            events.append(message["payload"]["data"]["mailingStats"])
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    sent = [by_status(e)["SENT"] for e in events]
    print(sent)
    assert sent == sorted(sent) and len(set(sent)) >= 5  # rising, in several steps
    final = events[-1]
    assert final["state"] == "FINISHED" and by_status(final)["SENT"] == 400
    stats = await engine.gql.ok(
        "query($id: ID!) { mailing(id: $id) { stats { mailingId state "
        "total byStatus { status count } } } }",
        id=str(mid),
    )
    assert stats["mailing"]["stats"] == final
    await ws.close()


async def test_auth_failures_close_4401(engine: Engine, server: Server) -> None:
    for token in (None, "not-a-token"):
        ws = await open_ws(server, token)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_unknown_id_is_an_error_for_that_operation_only(
    engine: Engine, server: Server
) -> None:
    ws = await open_ws(server, engine.gql.token)
    assert (await receive(ws))["type"] == "connection_ack"
    await subscribe(ws, "a", MAILING_STATS, id="999999")
    error = await receive(ws)
    assert error["type"] == "error" and error["id"] == "a"
    assert error["payload"][0]["extensions"]["code"] == "NOT_FOUND"
    await subscribe(ws, "b", OVERALL)
    snapshot = await receive(ws)
    assert snapshot["id"] == "b" and snapshot["payload"]["data"]["overallStats"]["mailings"] == 0
    await ws.close()


async def test_legacy_protocol_and_foreign_origin_refused(engine: Engine, server: Server) -> None:
    legacy = await connect(server.url, subprotocols=[Subprotocol("graphql-ws")])
    with pytest.raises(ConnectionClosed) as closed:  # graphql-ws (legacy) is refused
        await receive(legacy)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4406
    with pytest.raises(InvalidStatus) as refused:  # a browser page from another origin
        await connect(
            server.url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            origin=Origin("http://evil.example"),
        )
    assert refused.value.response.status_code == 403
    same = await connect(
        server.url,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        origin=Origin(server.url.replace("ws://", "http://").split("/graphql")[0]),
    )
    await same.send(
        json.dumps(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {engine.gql.token}"}}
        )
    )
    assert (await receive(same))["type"] == "connection_ack"
    await same.close()


async def test_abrupt_disconnects_leave_nothing_behind(engine: Engine, server: Server) -> None:
    await clients(engine, 3)
    mid = await mailing(engine, start=timedelta(hours=1), end=timedelta(hours=2))
    hub = server.state.hub
    assert hub is not None
    await asyncio.sleep(0.2)
    tasks_before = len(asyncio.all_tasks())
    conns = []
    for i in range(200):
        ws = await open_ws(server, engine.gql.token)
        assert (await receive(ws))["type"] == "connection_ack"
        await subscribe(ws, "s", MAILING_STATS if i % 2 else OVERALL, id=str(mid))
        conns.append(ws)
    for ws in conns:
        assert (await receive(ws))["type"] == "next"
    # one shared execution per distinct subscription, 200 followers, one hub watcher each
    assert server.state.shared_streams.counts() == {"streams": 2, "followers": 200}
    assert hub.counts() == {"pumps": 2, "watchers": 2}
    numsub = await engine.redis.pubsub_numsub(channel(engine.settings.queue_name))
    assert numsub[0][1] == 1  # one Redis subscription for the whole process
    for ws in conns:
        ws.transport.abort()  # no close frame: the peer just vanishes
    await wait_for(lambda: _hub_empty(hub), timeout=20, what="watchers released")
    assert server.state.shared_streams.counts() == {"streams": 0, "followers": 0}
    await wait_for(lambda: _tasks_back(tasks_before), timeout=20, what="tasks released")
    numsub = await engine.redis.pubsub_numsub(channel(engine.settings.queue_name))
    assert numsub[0][1] == 1


async def _hub_empty(hub: Any) -> bool:
    return bool(hub.counts() == {"pumps": 0, "watchers": 0})


async def _tasks_back(before: int) -> bool:
    return len(asyncio.all_tasks()) <= before


async def test_final_event_arrives_for_a_mailing_finished_meanwhile(
    engine: Engine, server: Server
) -> None:
    await clients(engine, 30)
    await engine.start_worker()
    mid = await mailing(engine)
    await wait_for(lambda: all_final(mid), what="sent")
    ws = await open_ws(server, engine.gql.token)
    assert (await receive(ws))["type"] == "connection_ack"
    await wait_for(lambda: in_state(mid, "FINISHED"), timeout=10, what="FINISHED")
    await subscribe(ws, "1", MAILING_STATS, id=str(mid))
    only = (await receive(ws))["payload"]["data"]["mailingStats"]
    assert only["state"] == "FINISHED" and by_status(only)["SENT"] == 30
    assert (await receive(ws))["type"] == "complete"
    await ws.close()
