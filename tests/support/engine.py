"""The delivery engine under test: the API in-process, workers as tasks, the probe simulator
as a real HTTP server and a real Redis (the fixtures are in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis

from herald.clock import utc_now
from herald.events import publish
from herald.settings import Settings
from jobs.worker import DeliveryWorker
from tests.support.api import GQL
from tools.probesim import RunningSim
from tools.redis_server import arq_settings


@dataclass
class Engine:
    gql: GQL
    sim: RunningSim
    settings: Settings
    redis: ArqRedis
    queue: str
    workers: list[tuple[DeliveryWorker, asyncio.Task[None]]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    redis_url: str = ""

    def configure(self, **changes: Any) -> None:
        """Change the probe simulator's behaviour (latency, fault rates, token) at once."""
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


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float = 30, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def forget(redis: ArqRedis, queue: str) -> int:
    """Delete every key of this test's (its queue's, its jobs'), as a Redis that lost its data
    would have; other users of the same Redis are left alone."""
    keys = [key async for key in redis.scan_iter(match=f"*{queue}*", count=1000)]
    return int(await redis.delete(*keys)) if keys else 0
