"""Live statistics in one API process: ONE Redis subscription, fanned out in memory.

One reader task (while anyone watches) re-reads the trigger-maintained counters of every
watched mailing a change was announced for, all of them in one read, at most `RATE` times a
second, and hands each snapshot to that mailing's local watchers (a Pump per watched
mailing); a watcher keeps only the latest snapshot, so a slow client never makes a queue
grow. A mailing watched without news is re-read every `REFRESH` seconds, so a lost
notification delays an update but never loses the final one. Watching a hundred mailings
costs one read per tick, not a hundred."""

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
OVERALL = 0  # the key of the all-mailings stats
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
    """One watched key: its local watchers, and when it was last read (monotonic)."""

    key: int
    read_at: float
    watchers: set[Watcher[Any]] = field(default_factory=set)


Read = Callable[[list[int]], Awaitable[dict[int, Any]]]


class Hub:
    def __init__(
        self,
        redis: Any,
        prefix: str,
        read: Read,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`read(keys)` returns the current snapshot of each mailing id (None once it is
        gone), and of OVERALL, in one go."""
        self.redis, self.prefix, self.read, self.monotonic = redis, prefix, read, monotonic
        self.pumps: dict[int, Pump] = {}
        self.dirty: set[int] = set()  # watched keys with news since their last read
        self.wake = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None
        self.listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        tasks = [t for t in (self.reader, self.listener) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.reader = None
        self.pumps.clear()

    def watch(self, key: int) -> Watcher[Any]:
        pump = self.pumps.get(key)
        if pump is None:  # its watcher reads the first snapshot itself
            pump = self.pumps[key] = Pump(key, read_at=self.monotonic())
        if self.reader is None or self.reader.done():
            self.reader = asyncio.create_task(self._read_loop())
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
            self.dirty.discard(watcher.key)
        if not self.pumps and self.reader is not None:
            self.reader.cancel()
            self.reader = None

    def counts(self) -> dict[str, int]:
        """For hygiene checks: watched keys (pumps) and watchers alive in this process."""
        return {
            "pumps": len(self.pumps),
            "watchers": sum(len(p.watchers) for p in self.pumps.values()),
        }

    def mark(self, mailing_ids: set[int]) -> None:
        news = (mailing_ids | {OVERALL}) & self.pumps.keys()
        if news:
            self.dirty |= news
            self.wake.set()

    async def _listen(self) -> None:
        """One subscription for the process, re-made whenever it is lost. While Redis is
        away the reader's own refresh keeps watchers current; the loss is logged once, then at
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

    def due(self) -> list[int]:
        """The keys to read now: those with news, and those not read for REFRESH seconds."""
        now = self.monotonic()
        return [k for k, p in self.pumps.items() if k in self.dirty or now - p.read_at >= REFRESH]

    async def _read_loop(self) -> None:
        while True:
            keys = self.due()
            if not keys:
                oldest = min((p.read_at for p in self.pumps.values()), default=None)
                wait = None if oldest is None else oldest + REFRESH - self.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), wait)
                self.wake.clear()
                continue
            self.dirty.difference_update(keys)
            read_at = self.monotonic()
            try:
                snapshots = await self.read(keys)
            except Exception:
                log.exception("could not read live stats", extra={"mailing_ids": keys})
                self.dirty.update(k for k in keys if k in self.pumps)  # tried again
                await asyncio.sleep(1)
                continue
            for key in keys:
                pump = self.pumps.get(key)
                if pump is None:  # unwatched while it was read
                    continue
                pump.read_at = read_at
                for watcher in list(pump.watchers):
                    watcher.offer(snapshots.get(key))
            # At most RATE reads a second, counted from this read's start: the time the read
            # took is not added to the wait of the changes announced meanwhile.
            await asyncio.sleep(max(0.0, 1 / RATE - (self.monotonic() - read_at)))
