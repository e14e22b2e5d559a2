"""A redis-server of a test's own, which it can kill, stop (SIGSTOP) and start again."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tools.redis_server import EmbeddedRedis


class RedisProcess:
    """A redis-server of the test's own, on a unix socket that survives its restarts."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.server: EmbeddedRedis | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = EmbeddedRedis(self.directory)
        await self.server.__aenter__()
        self.url = self.url or self.server.url
        assert self.server.url == self.url  # the same address after a restart

    def signal(self, sig: signal.Signals) -> None:
        assert self.server is not None and self.server.process is not None
        os.kill(self.server.process.pid, sig)

    async def kill(self) -> None:
        self.signal(signal.SIGKILL)
        await self.close()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.__aexit__(None, None, None)
            self.server = None
