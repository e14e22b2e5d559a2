"""Service-wide limits shared by all workers through Redis: the send rate toward the probe and
the circuit that stops sending when the probe rejects our token. Redis is optional for both:
while it is away (down, or hung), each degrades to this process alone (RedisGuard)."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from redis.exceptions import RedisError

import metrics
from models.waits import circuit_key

log = logging.getLogger("herald.worker")
T = TypeVar("T")
CALL_TIMEOUT = 2.0  # seconds for one guarded Redis call
COOL_OFF = 5.0  # seconds Redis is left alone after a failed call
Monotonic = Callable[[], float]  # seconds, for intervals inside this process (herald/clock.py)
Sleep = Callable[[float], Awaitable[None]]


class RedisGuard:
    """Runs the worker's calls to Redis for shared state, with a per-process fallback. A
    failed or slow call returns the fallback, is logged once per outage, and Redis is left
    alone for COOL_OFF seconds, so a down or hung Redis costs the send loop nothing; the first
    call that works again is logged with the number that failed."""

    def __init__(
        self,
        cool_off: float = COOL_OFF,
        timeout: float = CALL_TIMEOUT,
        *,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.cool_off, self.timeout, self.monotonic = cool_off, timeout, monotonic
        self.retry_at = 0.0
        self.failures = 0

    @property
    def available(self) -> bool:
        return self.monotonic() >= self.retry_at

    async def call(self, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        if not self.available:
            return fallback
        try:
            async with asyncio.timeout(self.timeout):
                result = await call()
        except (RedisError, OSError, TimeoutError) as exc:
            self.failed(exc)
            return fallback
        self.succeeded()
        return result

    def failed(self, exc: BaseException | None) -> None:
        self.failures += 1
        self.retry_at = self.monotonic() + self.cool_off
        if self.failures == 1:
            log.warning(
                "Redis unreachable (%s): sending goes on; the sweep, the probe circuit, the "
                "rate limit and change notifications work in this process until it answers",
                type(exc).__name__ if exc else "no answer",
            )

    def succeeded(self) -> None:
        if self.failures:
            log.warning(
                "Redis answers again (%d calls failed meanwhile): shared state restored",
                self.failures,
            )
            self.retry_at = 0.0
            self.failures = 0


class RateLimiter:
    """At most `rate` sends per second across every worker: a counter per wall-clock second
    in Redis (INCRBY is atomic, so workers never over-grant together). The second is read from
    `clock`, the wall clock every worker shares; `sleep` waits for the next one."""

    def __init__(
        self,
        redis: Any,
        rate: float,
        prefix: str,
        guard: RedisGuard | None = None,
        *,
        clock: Callable[[], datetime],
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.redis, self.rate, self.prefix = redis, int(rate), prefix
        self.guard = guard or RedisGuard()
        self.clock, self.sleep = clock, sleep
        self._local: dict[int, int] = {}  # second -> granted here, while Redis is away

    async def acquire(self, n: int) -> None:
        if self.rate <= 0:
            return
        while n > 0:
            second = int(self.clock().timestamp())
            total = await self.guard.call(functools.partial(self._count, second, n), None)
            if total is None:  # Redis away: this process alone keeps to the rate
                self._local = {second: self._local.get(second, 0) + n}
                total = self._local[second]
            granted = max(0, min(n, self.rate - (total - n)))
            n -= granted
            if n > 0:
                await self.sleep(max(0.0, second + 1 - self.clock().timestamp()))

    async def _count(self, second: int, n: int) -> int:
        key = f"{self.prefix}:rate:{second}"
        total = int(await self.redis.incrby(key, n))
        await self.redis.expire(key, 5)
        return total


class Circuit:
    """Open after a 401/403 from the probe: nothing is sent (messages stay PENDING and no
    attempt is used) except one trial send every `trial_every` seconds; the first success
    closes it. The state is shared through Redis so every worker stops, not just one; this
    process looks at it at most every CHECK_EVERY seconds of `monotonic`."""

    CHECK_EVERY = 0.5

    def __init__(
        self,
        redis: Any,
        prefix: str,
        trial_every: float = 5.0,
        guard: RedisGuard | None = None,
        *,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.redis, self.key, self.trial_every = redis, circuit_key(prefix), trial_every
        self.guard = guard or RedisGuard(monotonic=monotonic)
        self.monotonic = monotonic
        self._open = False
        self._next_trial = -math.inf
        self._checked = -math.inf  # the first look asks Redis, whatever the clock's origin

    async def is_open(self) -> bool:
        now = self.monotonic()
        if now - self._checked >= self.CHECK_EVERY:
            self._checked = now
            shared = await self.guard.call(lambda: self.redis.exists(self.key), None)
            if shared is not None:  # else Redis is away: this process's own view stands
                self._open = bool(shared)
            metrics.CIRCUIT_OPEN.set(self._open)
        return self._open

    @property
    def known_open(self) -> bool:
        """This process's last view (a trip here, or Redis's at the last look), no I/O."""
        return self._open

    async def trial_due(self) -> bool:
        now = self.monotonic()
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
        metrics.CIRCUIT_OPEN.set(1)
        self._next_trial = self.monotonic() + self.trial_every
        await self.guard.call(lambda: self.redis.set(self.key, "1", ex=3600), None)

    async def close(self) -> None:
        if self._open:
            log.warning("probe accepted a trial send: circuit closed, sending resumes")
        self._open = False
        metrics.CIRCUIT_OPEN.set(0)
        await self.guard.call(lambda: self.redis.delete(self.key), None)
