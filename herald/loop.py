"""The event loop every Herald process runs on: uvloop where it is installed (Linux and macOS
wheels; it is a dependency there), else asyncio's own, so the default install works where no
wheel exists (Windows). uvicorn picks uvloop the same way for `herald serve` (loop="auto")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop
