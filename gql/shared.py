"""One execution per distinct subscription, shared by every websocket that asked for it.

A thousand dashboards watching mailing 7 with the same document would otherwise each run the
subscription and render every snapshot themselves (~125 µs each, thousands a second). Here the
first subscriber of a (document, variables, operation name) starts one stream; later ones
follow it and get the newest result at once; each follower keeps only the newest result it
has not sent yet. The stream stops when its last follower leaves."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str, str | None]


def stream_key(query: str, variables: dict[str, object] | None, name: str | None) -> Key:
    return query, json.dumps(variables or {}, sort_keys=True, default=str), name


@dataclass(eq=False)
class Broadcast:
    latest: Any = None
    version: int = 0
    done: bool = False
    error: BaseException | None = None
    followers: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def publish(self) -> None:
        previous, self.changed = self.changed, asyncio.Event()
        previous.set()


class SharedStreams:
    def __init__(self) -> None:
        self.streams: dict[Key, Broadcast] = {}

    def counts(self) -> dict[str, int]:
        return {
            "streams": len(self.streams),
            "followers": sum(b.followers for b in self.streams.values()),
        }

    async def follow(
        self, key: Key, start: Callable[[], Awaitable[AsyncIterator[Any]]]
    ) -> AsyncGenerator[Any, None]:
        broadcast = self.streams.get(key)
        if broadcast is None or broadcast.done:
            broadcast = self.streams[key] = Broadcast()
            broadcast.task = asyncio.create_task(self._lead(broadcast, start))
        broadcast.followers += 1
        seen = 0
        try:
            while True:
                changed = broadcast.changed
                if broadcast.version > seen:
                    seen = broadcast.version
                    yield broadcast.latest
                elif broadcast.done:
                    if broadcast.error is not None:
                        raise broadcast.error
                    return
                else:
                    await changed.wait()
        finally:
            broadcast.followers -= 1
            if broadcast.followers == 0:
                if self.streams.get(key) is broadcast:
                    del self.streams[key]
                if broadcast.task is not None and not broadcast.task.done():
                    broadcast.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await broadcast.task

    async def _lead(
        self, broadcast: Broadcast, start: Callable[[], Awaitable[AsyncIterator[Any]]]
    ) -> None:
        try:
            source = await start()
            try:
                async for result in source:
                    broadcast.latest, broadcast.version = result, broadcast.version + 1
                    broadcast.publish()
            finally:
                aclose = getattr(source, "aclose", None)
                if aclose is not None:
                    await aclose()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            broadcast.error = exc
        finally:
            broadcast.done = True
            broadcast.publish()
