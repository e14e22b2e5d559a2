"""Live statistics in one API process: ONE Redis subscription, fanned out in memory.

Each watched mailing has one pump task (while anyone watches it) that re-reads the
trigger-maintained counters when a change is announced, at most `RATE` times a second, and
hands the snapshot to every local watcher; a watcher keeps only the latest snapshot, so a slow
client never makes a queue grow. Pumps also refresh every `REFRESH` seconds without news, so a
lost notification delays an update but never loses the final one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from models.changes import channel, decode

log = logging.getLogger("herald.live")
RATE = 4.0
REFRESH = 3.0
LOST_LOG_EVERY = 60.0  # seconds between two lines about a lost subscription
OVERALL = 0  # key of the all-mailings pump
T = TypeVar("T")


@dataclass(eq=False)
class Watcher(Generic[T]):
    """One subscriber: holds only the newest snapshot it has not yet been given."""

    key: int
    latest: T | None = None
    version: int = 0
    seen: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def prime(self, snapshot: T) -> None:
        """The snapshot already sent as the first event: later equal ones are not news."""
        self.latest = snapshot
        self.seen = self.version

    def offer(self, snapshot: T) -> None:
        if snapshot == self.latest:
            return
        self.latest, self.version = snapshot, self.version + 1
        self.changed.set()

    async def next(self) -> T | None:
        while self.version == self.seen:
            self.changed.clear()
            await self.changed.wait()
        self.seen = self.version
        return self.latest


@dataclass(eq=False)
class Pump:
    key: int
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    watchers: set[Watcher[Any]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class Hub:
    def __init__(self, redis: Any, prefix: str, read: Callable[[int], Awaitable[Any]]) -> None:
        """`read(key)` returns the current snapshot for a mailing id (None once it is gone),
        or for OVERALL."""
        self.redis, self.prefix, self.read = redis, prefix, read
        self.pumps: dict[int, Pump] = {}
        self.listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        tasks = [p.task for p in self.pumps.values() if p.task] + (
            [self.listener] if self.listener else []
        )
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.pumps.clear()

    def watch(self, key: int) -> Watcher[Any]:
        pump = self.pumps.get(key)
        if pump is None:
            pump = self.pumps[key] = Pump(key)
            pump.task = asyncio.create_task(self._pump(pump))
        watcher: Watcher[Any] = Watcher(key)
        pump.watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher[Any]) -> None:
        pump = self.pumps.get(watcher.key)
        if pump is None:
            return
        pump.watchers.discard(watcher)
        if not pump.watchers:
            del self.pumps[watcher.key]
            if pump.task:
                pump.task.cancel()

    def counts(self) -> dict[str, int]:
        """For hygiene checks: pumps and watchers alive in this process."""
        return {
            "pumps": len(self.pumps),
            "watchers": sum(len(p.watchers) for p in self.pumps.values()),
        }

    def mark(self, mailing_ids: set[int]) -> None:
        for key in mailing_ids | {OVERALL}:
            if pump := self.pumps.get(key):
                pump.dirty.set()

    async def _listen(self) -> None:
        """One subscription for the process, re-made whenever it is lost. While Redis is
        away the pumps' own refresh keeps watchers current; the loss is logged once, then at
        most once a minute with the number of failed tries, and the return once."""
        failures, last_log = 0, 0.0
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(channel(self.prefix))
                if failures:
                    log.warning("live stats subscription back after %d failed tries", failures)
                    failures = 0
                self.mark(set(self.pumps))  # catch up on anything missed while away
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.mark(decode(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1 or time.monotonic() - last_log >= LOST_LOG_EVERY:
                    log.warning(
                        "live stats subscription lost (%s, %d tries so far); reconnecting",
                        type(exc).__name__,
                        failures,
                    )
                    last_log = time.monotonic()
                await asyncio.sleep(1)
            finally:
                await pubsub.aclose()

    async def _pump(self, pump: Pump) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pump.dirty.wait(), REFRESH)
            pump.dirty.clear()
            read_at = time.monotonic()
            try:
                snapshot = await self.read(pump.key)
            except Exception:
                log.exception("could not read live stats", extra={"mailing_id": pump.key})
                await asyncio.sleep(1)
                continue
            for watcher in list(pump.watchers):
                watcher.offer(snapshot)
            # At most RATE reads a second, counted from this read's start: the time the read
            # took is not added to the wait of the changes announced meanwhile.
            await asyncio.sleep(max(0.0, 1 / RATE - (time.monotonic() - read_at)))
