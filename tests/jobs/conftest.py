"""The delivery engine under test: real database, real Redis (TEST_REDIS_URL's database, or an
embedded server), the probe simulator as a real HTTP server, an arq worker in-process."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import ArqRedis

from herald.app import AppState, create_app
from herald.clock import utc_now
from herald.events import publish
from herald.settings import Settings
from jobs.start import enqueue_start
from jobs.worker import DeliveryWorker
from models.mailing import Mailing
from models.message import Message
from models.transitions import FINAL
from tests.conftest import GQL
from tools.probesim import RunningSim, SimConfig, start_simulator
from tools.redis_server import EmbeddedRedis, arq_settings


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    """TEST_REDIS_URL as given (the tests never flush it: they use their own key prefix), or
    a private embedded server."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    async with EmbeddedRedis(tmp_path / "redis") as server:
        yield server.url


@pytest.fixture
def queue() -> str:
    """This test's queue name, also the prefix of every key it makes in Redis."""
    return f"herald:test:{secrets.token_hex(4)}"


async def forget(redis: ArqRedis, queue: str) -> int:
    """Delete every key of this test's (its queue's, its jobs'), as a Redis that lost its data
    would have; other users of the same Redis are left alone."""
    keys = [key async for key in redis.scan_iter(match=f"*{queue}*", count=1000)]
    return int(await redis.delete(*keys)) if keys else 0


@pytest.fixture
async def redis(redis_url: str, queue: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(arq_settings(redis_url))
    yield pool
    await forget(pool, queue)
    await pool.aclose()


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    probe_token = secrets.token_urlsafe(12)
    running = await start_simulator(SimConfig(token=probe_token))
    running.state.config.token = probe_token
    yield running
    await running.stop()


@dataclass
class Engine:
    gql: GQL
    sim: RunningSim
    settings: Settings
    redis: ArqRedis
    queue: str
    workers: list[tuple[DeliveryWorker, asyncio.Task[None]]] = field(default_factory=list)

    def configure(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self.sim.state.config, name, value)

    async def start_worker(self, **overrides: str) -> None:
        settings = self.settings if not overrides else Settings.from_env({**self.env, **overrides})
        worker = DeliveryWorker(
            settings,
            arq_settings(self.redis_url),
            clock=utc_now,
            publish=publish,
            queue_name=self.queue,
        )
        self.workers.append((worker, asyncio.create_task(worker.run())))

    async def stop_workers(self) -> None:
        for worker, _ in self.workers:
            worker.stop()
        await asyncio.gather(*(task for _, task in self.workers))
        self.workers.clear()

    env: dict[str, str] = field(default_factory=dict)
    redis_url: str = ""


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float = 30, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def all_final(mailing_id: int) -> bool:
    """The mailing has started and none of its messages can change any more."""
    if not await Mailing.filter(id=mailing_id, started_at__isnull=False).exists():
        return False
    return not await Message.filter(mailing_id=mailing_id).exclude(status__in=list(FINAL)).exists()


async def mailing_state(mailing_id: int) -> str:
    return str((await Mailing.get(id=mailing_id)).state.value)


@pytest.fixture
async def engine(
    database: str,
    redis: ArqRedis,
    redis_url: str,
    queue: str,
    sim: RunningSim,
    tmp_path: Path,
    admin_token: str,
) -> AsyncIterator[Engine]:
    env = {
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "PROBE_URL": sim.url,
        "PROBE_TOKEN": sim.state.config.token or "",
        "API_ADMIN_TOKEN": admin_token,
        "DATA_DIR": str(tmp_path),
        "LEASE_SECONDS": "3",
        "SWEEP_INTERVAL": "1",
        "BACKOFF_BASE": "0.05",
        "BACKOFF_CAP": "0.2",
        "PROBE_TIMEOUT": "1.5",
        "MAX_ATTEMPTS": "8",
        "CIRCUIT_TRIAL_SECONDS": "0.3",
    }
    env["QUEUE_NAME"] = queue
    settings = Settings.from_env(env)
    state = AppState(settings=settings, manage_db=False)

    async def enqueue(mailing_id: int, mailing: Mailing | None) -> None:
        if mailing is not None:
            await enqueue_start(redis, queue, mailing)

    state.on_mailing_change = enqueue
    app = create_app(state)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://herald.test"
    ) as http:
        engine = Engine(
            GQL(http, admin_token), sim, settings, redis, queue, env=env, redis_url=redis_url
        )
        try:
            yield engine
        finally:
            await engine.stop_workers()


async def counters_match_messages() -> bool:
    """The trigger-maintained counters equal a fresh COUNT(*) over messages."""
    from models.sql import fetch

    counted = {
        (r["mailing_id"], r["status"]): int(r["n"])
        for r in await fetch(
            "SELECT mailing_id, status, COUNT(*) AS n FROM message GROUP BY mailing_id, status"
        )
    }
    kept = {
        (r["mailing_id"], r["status"]): int(r["n"])
        for r in await fetch("SELECT mailing_id, status, n FROM mailing_stat WHERE n <> 0")
    }
    return counted == kept
