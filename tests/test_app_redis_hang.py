"""A hung Redis (SIGSTOP) must not hang mutations: commit, answer, and leave the start job to
a best-effort enqueue and, failing that, to the sweep. Real redis-server, real uvicorn."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from herald.app import AppState, create_app
from herald.clock import utc_now
from herald.events import publish
from herald.settings import Settings
from jobs.worker import DeliveryWorker
from models.mailing import Mailing
from models.message import Message, MessageStatus
from tests.support.delivery import all_final, clients
from tests.support.engine import Engine, wait_for
from tools.redis_server import EmbeddedRedis, arq_settings

CREATE = """mutation($input: MailingInput!, $key: String) {
  createMailing(input: $input, idempotencyKey: $key) { id state } }"""


class Frozen:
    """A redis-server of the test's own that it can freeze (SIGSTOP) and thaw (SIGCONT)."""

    def __init__(self, server: EmbeddedRedis) -> None:
        self.server = server
        self.stopped = False

    def _signal(self, sig: signal.Signals) -> None:
        assert self.server.process is not None
        os.kill(self.server.process.pid, sig)

    def freeze(self) -> None:
        self._signal(signal.SIGSTOP)
        self.stopped = True

    def thaw(self) -> None:
        if self.stopped:
            self._signal(signal.SIGCONT)
            self.stopped = False


@pytest.fixture
async def frozen_redis(tmp_path: Path) -> AsyncIterator[Frozen]:
    async with EmbeddedRedis(tmp_path / "frozen") as server:
        frozen = Frozen(server)
        try:
            yield frozen
        finally:
            frozen.thaw()  # never leave a stopped process behind, whatever failed


@pytest.fixture
async def api(engine: Engine, frozen_redis: Frozen) -> AsyncIterator[tuple[str, Settings]]:
    """`herald serve --no-worker`'s app, served by uvicorn, enqueueing into the frozen Redis."""
    settings = Settings.from_env({**engine.env, "REDIS_URL": frozen_redis.server.url})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = AppState(settings=settings, manage_db=False, delivery=True)
    config = uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: _started(server), timeout=10, what="uvicorn")
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        frozen_redis.thaw()
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server) -> bool:
    return bool(server.started)


async def test_create_mailing_answers_while_redis_is_stopped(
    engine: Engine, frozen_redis: Frozen, api: tuple[str, Settings], admin_token: str
) -> None:
    url, settings = api
    await clients(engine, 5)
    now = datetime.now(UTC)
    mailing = {
        "text": "Hello from Herald",
        "startAt": (now - timedelta(seconds=1)).isoformat(),
        "endAt": (now + timedelta(hours=1)).isoformat(),
        "filter": {},
    }
    headers = {"Authorization": f"Bearer {admin_token}"}
    frozen_redis.freeze()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=8) as http:
        latencies, ids = [], []
        for _ in range(2):  # the retry of a lost answer: same key, same mailing
            began = time.monotonic()
            response = await http.post(
                "/graphql", json={"query": CREATE, "variables": {"input": mailing, "key": "a"}}
            )
            latencies.append(time.monotonic() - began)
            body = response.json()
            assert not body.get("errors"), body
            ids.append(int(body["data"]["createMailing"]["id"]))
    assert max(latencies) < 2.0, latencies
    assert ids[0] == ids[1] and await Mailing.all().count() == 1
    assert (await Mailing.get(id=ids[0])).state.value == "SCHEDULED"

    frozen_redis.thaw()
    worker = DeliveryWorker(
        settings,
        arq_settings(settings.redis_url),
        clock=utc_now,
        publish=publish,
        queue_name=engine.queue,
    )
    task = asyncio.create_task(worker.run())
    try:
        await wait_for(lambda: all_final(ids[0]), timeout=20, what="the mailing to be sent")
    finally:
        worker.stop()
        await task
    rows = await Message.filter(mailing_id=ids[0])
    assert [m.status for m in rows] == [MessageStatus.SENT] * 5
