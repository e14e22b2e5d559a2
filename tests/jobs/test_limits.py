"""The send-rate limit, the probe circuit and the Redis guard, on a real Redis, with their clocks
driven by the test: no test here sleeps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from arq.connections import ArqRedis
from redis.exceptions import ConnectionError as RedisConnectionError

from jobs.limits import Circuit, RateLimiter, RedisGuard


class FakeTime:
    """One timeline read as the wall clock, as the monotonic clock and slept on: `sleep`
    moves it forward instead of waiting."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.slept: list[float] = []

    def wall(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(redis: ArqRedis, queue: str, time: FakeTime, rate: int) -> RateLimiter:
    return RateLimiter(redis, rate, queue, clock=time.wall, sleep=time.sleep)


async def test_rate_limiter_grants_rate_per_wall_clock_second_then_waits_for_the_next(
    redis: ArqRedis, queue: str
) -> None:
    time = FakeTime(1_000_000.25)
    await limiter(redis, queue, time, rate=10).acquire(25)
    assert time.slept == [0.75, 1.0]  # 10 in second 1000000, 10 in the next, 5 in the third
    await limiter(redis, queue, time, rate=10).acquire(5)  # the rest of the third second
    assert time.slept == [0.75, 1.0]
    await limiter(redis, queue, time, rate=10).acquire(1)
    assert time.slept == [0.75, 1.0, 1.0]


async def test_rate_limiter_is_shared_by_every_worker(redis: ArqRedis, queue: str) -> None:
    time = FakeTime(2_000_000.5)
    await limiter(redis, queue, time, rate=10).acquire(10)
    assert time.slept == []
    await limiter(redis, queue, time, rate=10).acquire(3)  # another worker, the same second
    assert time.slept == [0.5]
    assert await redis.get(f"{queue}:rate:2000001") == b"3"


async def test_rate_limiter_off_reads_no_clock(redis: ArqRedis, queue: str) -> None:
    def no_clock() -> datetime:
        raise AssertionError("read the clock")

    await RateLimiter(redis, 0, queue, clock=no_clock).acquire(1000)


async def test_circuit_allows_one_trial_per_interval_while_open(
    redis: ArqRedis, queue: str
) -> None:
    time = FakeTime(50.0)
    circuit = Circuit(redis, queue, trial_every=5.0, monotonic=time.monotonic)
    assert not await circuit.is_open()
    await circuit.trip()
    assert await circuit.is_open()
    assert not await circuit.trial_due()  # the failed send was the first trial
    time.now += 4.9
    assert not await circuit.trial_due()
    time.now += 0.1
    assert await circuit.trial_due()
    assert not await circuit.trial_due()  # one trial, not one per caller
    time.now += 5.0
    assert await circuit.trial_due()
    await circuit.close()
    assert not await circuit.is_open()


async def test_circuit_state_reaches_other_workers_within_the_check_interval(
    redis: ArqRedis, queue: str
) -> None:
    time = FakeTime(100.0)
    tripping = Circuit(redis, queue, monotonic=time.monotonic)
    other = Circuit(redis, queue, monotonic=time.monotonic)
    assert not await other.is_open()
    await tripping.trip()
    time.now += Circuit.CHECK_EVERY - 0.01
    assert not await other.is_open()  # its last look at Redis is recent enough
    time.now += 0.01
    assert await other.is_open()
    await tripping.close()
    assert await other.is_open()
    time.now += Circuit.CHECK_EVERY
    assert not await other.is_open()


async def test_guard_leaves_redis_alone_for_the_cool_off_after_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    time = FakeTime(10.0)
    guard = RedisGuard(cool_off=5.0, monotonic=time.monotonic)
    calls = 0
    redis_up = False

    async def call() -> str:
        nonlocal calls
        calls += 1
        if not redis_up:
            raise RedisConnectionError("refused")
        return "shared"

    assert await guard.call(call, "local") == "local"
    time.now += 4.9
    assert await guard.call(call, "local") == "local"
    assert calls == 1 and not guard.available
    redis_up = True
    time.now += 0.1
    assert guard.available
    assert await guard.call(call, "local") == "shared"
    assert calls == 2
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "Redis unreachable",
        "Redis answers again",
    ]
