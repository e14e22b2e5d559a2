"""Service-wide limits shared by all workers through Redis: the send rate toward the probe and
the circuit that stops sending when the probe rejects our token."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger("herald.worker")


class RateLimiter:
    """At most `rate` sends per second across every worker: a counter per wall-clock second
    in Redis (INCRBY is atomic, so workers never over-grant together)."""

    def __init__(self, redis: Any, rate: float, prefix: str) -> None:
        self.redis, self.rate, self.prefix = redis, int(rate), prefix

    async def acquire(self, n: int) -> None:
        if self.rate <= 0:
            return
        while n > 0:
            second = int(time.time())
            key = f"{self.prefix}:rate:{second}"
            total = int(await self.redis.incrby(key, n))
            await self.redis.expire(key, 5)
            granted = max(0, min(n, self.rate - (total - n)))
            n -= granted
            if n > 0:
                await asyncio.sleep(max(0.0, second + 1 - time.time()))


class Circuit:
    """Open after a 401/403 from the probe: nothing is sent (messages stay PENDING and no
    attempt is used) except one trial send every `trial_every` seconds; the first success
    closes it. The state is shared through Redis so every worker stops, not just one."""

    def __init__(self, redis: Any, prefix: str, trial_every: float = 5.0) -> None:
        self.redis, self.key, self.trial_every = redis, f"{prefix}:circuit", trial_every
        self._open = False
        self._next_trial = 0.0
        self._checked = 0.0

    async def is_open(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= 0.5:
            self._checked = now
            self._open = bool(await self.redis.exists(self.key))
        return self._open

    async def trial_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_trial:
            return False
        self._next_trial = now + self.trial_every
        return True

    async def trip(self) -> None:
        if not self._open:
            log.error(
                "probe rejected the token (401/403): sending stopped for the whole "
                "service until a trial send succeeds; check PROBE_TOKEN"
            )
        self._open = True
        self._next_trial = time.monotonic() + self.trial_every
        await self.redis.set(self.key, "1", ex=3600)

    async def close(self) -> None:
        if self._open:
            log.warning("probe accepted a trial send: circuit closed, sending resumes")
        self._open = False
        await self.redis.delete(self.key)
