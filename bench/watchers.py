"""`python -m bench.watchers URL TOKEN MAILING N OUT`: N websocket subscribers of one
mailing's stats; prints `subscribed` once all have their first event, and at the end writes
every event and this process's CPU seconds to OUT (bench/live.py RemoteWatchers)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from bench.live import Watchers, cpu_seconds
from herald.loop import loop_factory


async def watch(url: str, token: str, mailing_id: int, n: int) -> Watchers:
    crowd = Watchers(url, token, mailing_id, n)
    await crowd.start()
    print("subscribed", flush=True)
    await crowd.finish(limit=900)
    return crowd


if __name__ == "__main__":
    url, token, mailing, n, out = sys.argv[1:6]
    with asyncio.Runner(loop_factory=loop_factory()) as runner:  # uvloop, as Herald's own
        crowd = runner.run(watch(url, token, int(mailing), int(n)))
    found = {"events": crowd.events, "cpu": cpu_seconds(os.getpid())}
    Path(out).write_text(json.dumps(found))
