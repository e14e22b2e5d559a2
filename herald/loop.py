"""The event loop every Herald process runs on: uvloop where it is installed (Linux and macOS
wheels; it is a dependency there), else asyncio's own, so the default install works where no
wheel exists (Windows). uvicorn picks uvloop the same way for `herald serve` (loop="auto")."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


# A worker's young-generation threshold (Python's default: 700). The send loop makes and
# frees some fifty tracked objects per message, nearly all freed by reference counting; at
# 700 a collection still ran every ~10 messages (3,200 in a 30,000-message bench, 0.6 s: ~20
# µs of a message's ~290), each walking the sends in flight. At 50,000: one collection (7 ms)
# in those 30,000 messages, 293 → 271-274 µs per message, the same peak RSS (68 MB). Not for
# the API: there fewer, larger collections raised `updateClient`'s p99 from 21 to 56-103 ms.
WORKER_YOUNG_GENERATION = 50_000


def settle_heap(young: int | None = None) -> None:
    """Call once a process has started (its modules, schema and connections built): what
    exists then lives as long as the process, so it is moved out of the garbage collector's
    view (`gc.freeze`). A full collection otherwise walks all of it: in the API under the
    bench's load those took 42-70 ms each, several times a minute, and every request in
    progress waited; in a worker, the write lock its SQLite thread held waited too. Frozen,
    the longest collection measured 6-7 ms. The objects are never freed, which they would not
    be anyway. `young`: the young generation's threshold from now on (None: unchanged)."""
    gc.collect()
    gc.freeze()
    if young is not None:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(young, older, oldest)
