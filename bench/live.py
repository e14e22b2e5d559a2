"""1,000 dashboards on one API process, watching one mailing being sent at full speed."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

SUBSCRIPTION = """subscription($id: ID!) { mailingStats(id: $id) {
  state total byStatus { status count } } }"""


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User + system CPU seconds of a process (or of one of its threads, `tid`), from /proc."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def schedstat(pid: int, tid: int) -> tuple[float, float] | None:
    """Seconds a thread has run on a core and waited for one (runnable, not running), from
    /proc/PID/task/TID/schedstat; None where the kernel does not keep them."""
    try:
        ran, waited = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[:2]
    except (FileNotFoundError, ValueError):
        return None
    return int(ran) / 1e9, int(waited) / 1e9


class Watchers:
    """n websocket subscribers; each records (arrival time, SENT count, state) per event."""

    def __init__(self, url: str, token: str, mailing_id: int, n: int) -> None:
        self.url, self.token, self.mailing_id, self.n = url, token, mailing_id, n
        self.events: list[list[tuple[float, int, str]]] = []
        self.subscribed = 0
        self.all_subscribed = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.frames: dict[str | bytes, tuple[str, int, str]] = {}

    async def start(self) -> None:
        for i in range(0, self.n, 50):  # connect in waves, not all SYNs at once
            self.tasks += [asyncio.create_task(self._watch()) for _ in range(min(50, self.n - i))]
            await asyncio.sleep(0.05)
        await self.all_subscribed.wait()

    async def finish(self, limit: float) -> None:
        await asyncio.wait_for(asyncio.gather(*self.tasks), limit)

    def _read(self, raw: str | bytes) -> tuple[str, int, str]:
        """A frame's type and, for a `next`, its SENT count and the mailing's state. Every
        subscriber is sent the same bytes, so each distinct frame is decoded once for the
        whole crowd: this process's CPU is the bench's, not Herald's, and it shares the
        cores with what is measured."""
        found = self.frames.get(raw)
        if found is None:
            message: dict[str, Any] = json.loads(raw)
            sent, state = 0, ""
            if message["type"] == "next":
                stats = message["payload"]["data"]["mailingStats"]
                sent = next(s["count"] for s in stats["byStatus"] if s["status"] == "SENT")
                state = stats["state"]
            found = self.frames[raw] = (message["type"], sent, state)
        return found

    async def _watch(self) -> None:
        events: list[tuple[float, int, str]] = []
        async with connect(
            self.url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            open_timeout=60,
            ping_interval=None,
        ) as ws:
            await ws.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {self.token}"},
                    }
                )
            )
            await ws.recv()
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": SUBSCRIPTION,
                            "variables": {"id": str(self.mailing_id)},
                        },
                    }
                )
            )
            subscribed = False
            async for raw in ws:
                kind, sent, state = self._read(raw)
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind == "next":
                    events.append((time.time(), sent, state))
                    if not subscribed:
                        subscribed = True
                        self.subscribed += 1
                        if self.subscribed == self.n:
                            self.all_subscribed.set()
                elif kind == "complete":
                    break
        self.events.append(events)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class RemoteWatchers:
    """The same n subscribers in a process of their own (`python -m bench.watchers`), so
    their CPU is not the bench's, and the figures say what the API spent."""

    def __init__(self, url: str, token: str, mailing_id: int, n: int, out: Path) -> None:
        self.args = [url, token, str(mailing_id), str(n), str(out)]
        self.mailing_id, self.n, self.out = mailing_id, n, out
        self.proc: asyncio.subprocess.Process | None = None
        self.events: list[list[tuple[float, int, str]]] = []
        self.cpu = 0.0

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.watchers", *self.args, stdout=asyncio.subprocess.PIPE
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 120)
        if line.strip() != b"subscribed":
            raise RuntimeError(f"watchers did not subscribe: {line!r}")

    async def finish(self, limit: float) -> None:
        assert self.proc is not None
        if await asyncio.wait_for(self.proc.wait(), limit) != 0:
            raise RuntimeError("the watchers' process failed")
        found = json.loads(self.out.read_text())
        self.events = [[(t, sent, state) for t, sent, state in e] for e in found["events"]]
        self.cpu = found["cpu"]

    def event_count(self) -> int:
        return sum(len(events) for events in self.events)

    def lags(self, acceptances: list[float]) -> list[float]:
        return [
            t - acceptances[sent - 1] for events in self.events for t, sent, _ in events if sent > 0
        ]

    def all_final(self, total: int) -> bool:
        return len(self.events) == self.n and all(
            e and e[-1][2] == "FINISHED" and e[-1][1] == total for e in self.events
        )
