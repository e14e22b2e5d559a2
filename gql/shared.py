"""One execution per distinct subscription, shared by every websocket that asked for it.

A thousand dashboards watching mailing 7 with the same document would otherwise each run the
subscription and render every snapshot themselves (~125 µs each, thousands a second). Here the
first subscriber of a (document, variables, operation name) starts one stream; later ones
follow it and get the newest result at once; each follower keeps only the newest result it
has not sent yet. The stream stops when its last follower leaves.

Each result is also rendered once (`Snapshot.frame`): the `next` message's payload is encoded
the first time a follower sends it, and every follower with the same operation id (a
dashboard's usual "1") sends those same bytes; a follower with another id gets the same
payload text under its own id."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str, str | None]
Encode = Callable[[object], str | bytes]  # the view's encode_json


def _text(encoded: str | bytes) -> str:
    return encoded.decode() if isinstance(encoded, bytes) else encoded


class Snapshot:
    """One result of a shared stream and its `next` frames, rendered on first use."""

    __slots__ = ("_frames", "_payload", "result")

    def __init__(self, result: Any) -> None:
        self.result = result
        self._payload: str | None = None
        self._frames: dict[str, str] = {}

    def frame(self, operation_id: str, encode: Encode) -> str:
        """The graphql-transport-ws `next` message for this result, as strawberry's
        `send_next` builds it (data, then errors and extensions when present)."""
        frame = self._frames.get(operation_id)
        if frame is None:
            if self._payload is None:
                payload: dict[str, object] = {"data": self.result.data}
                if self.result.errors:
                    payload["errors"] = [error.formatted for error in self.result.errors]
                if self.result.extensions:
                    payload["extensions"] = self.result.extensions
                self._payload = _text(encode(payload))
            # Pieces that are each JSON already (the id encoded by `encode` too), joined.
            head = _text(encode({"id": operation_id, "type": "next"}))[:-1]
            frame = self._frames[operation_id] = f'{head}, "payload": {self._payload}}}'
        return frame


def stream_key(query: str, variables: dict[str, object] | None, name: str | None) -> Key:
    return query, json.dumps(variables or {}, sort_keys=True, default=str), name


@dataclass(eq=False)
class Broadcast:
    latest: Snapshot | None = None
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
    ) -> AsyncGenerator[Snapshot, None]:
        broadcast = self.streams.get(key)
        if broadcast is None or broadcast.done:
            broadcast = self.streams[key] = Broadcast()
            broadcast.task = asyncio.create_task(self._lead(broadcast, start))
        broadcast.followers += 1
        seen = 0
        try:
            while True:
                changed = broadcast.changed
                if broadcast.version > seen and broadcast.latest is not None:
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
                    broadcast.latest = Snapshot(result)
                    broadcast.version += 1
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
