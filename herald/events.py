"""Change notifications between processes: workers (and the API) publish the ids of mailings
whose counts or state changed on one Redis pub/sub channel (format: models/changes.py); every
API process listens once. `publish` is handed to the workers (jobs/ never imports herald/);
`Notifier` runs the API's own best-effort Redis calls beside its answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from redis.exceptions import RedisError

from models.changes import channel, encode

log = logging.getLogger("herald.events")
PUBLISH_TIMEOUT = 1.0  # seconds: a notification is only a hint
NOTIFY_TIMEOUT = 2.0  # seconds per background call of the API (enqueue a start, publish)


async def publish(redis: Any, prefix: str, mailing_ids: Iterable[int]) -> None:
    """Announce changed mailings, within PUBLISH_TIMEOUT. A failure is raised (RedisError,
    OSError, TimeoutError) for the caller's guard to count and log once: a lost notification
    only delays an update (listeners also refresh on their own every few seconds), so callers
    never let it fail a send or a request."""
    payload = encode(mailing_ids)
    if not payload:
        return
    async with asyncio.timeout(PUBLISH_TIMEOUT):
        await redis.publish(channel(prefix), payload)


class Notifier:
    """Runs the API's Redis side effects of a committed change (the start job's enqueue, the
    change notification) in background tasks, each bounded by `timeout`, so that a mutation's
    answer never waits on Redis: a stopped or hung Redis costs only hints, which the worker's
    sweep repairs from the database. A failing Redis is logged once, and its recovery once
    with the number of calls lost. `aclose()` lets the tasks finish within `timeout`, then
    cancels what is left, so none outlives the Redis pool it uses."""

    def __init__(self, timeout: float = NOTIFY_TIMEOUT) -> None:
        self.timeout = timeout
        self.tasks: set[asyncio.Task[None]] = set()
        self.failures = 0

    def spawn(self, what: str, call: Callable[[], Awaitable[None]], **fields: object) -> None:
        task = asyncio.create_task(self._run(what, call, fields))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, what: str, call: Callable[[], Awaitable[None]], fields: Any) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await call()
        except (RedisError, OSError, TimeoutError) as exc:
            self.failures += 1
            if self.failures == 1:
                log.warning("could not %s: %s", what, type(exc).__name__, extra=fields)
            return
        except Exception:
            log.exception("unexpected error while trying to %s", what, extra=fields)
            return
        if self.failures:
            log.warning("Redis answers again; %d background calls were lost", self.failures)
            self.failures = 0

    async def aclose(self) -> None:
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=self.timeout)
        for task in set(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
