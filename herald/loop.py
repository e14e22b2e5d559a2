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


def settle_heap() -> None:
    """Call once a process has started (its modules, schema and connections built): what
    exists then lives as long as the process, so it is moved out of the garbage collector's
    view (`gc.freeze`). A full collection otherwise walks all of it: in the API under the
    bench's load those took 42-70 ms each, several times a minute, and every request in
    progress waited; in a worker, the write lock its SQLite thread held waited too. Frozen,
    the longest collection measured 6-7 ms. The objects are never freed, which they would not
    be anyway."""
    gc.collect()
    gc.freeze()
