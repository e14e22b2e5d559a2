"""The service's wall clock, and which clock readings are allowed where.

- **Wall clock** (an aware UTC `datetime`): read here only, by `utc_now`. Whatever is compared
  with a stored time or agreed on with another process takes a `clock: Callable[[], datetime]`
  that the composition root (herald/app.py, herald/cli.py) fills with `utc_now`: the API's
  `Context.clock`, `DeliveryWorker(clock=)` and, from the worker, the dispatcher, the send-rate
  second shared through Redis (`jobs.limits.RateLimiter(clock=)`) and the probe's Retry-After
  dates (`jobs.probe.ProbeClient(clock=)`). Domain code (models/) takes `now` as an argument.
- **Monotonic clock** (`time.monotonic`, seconds): intervals inside one process that never meet
  a stored time and never leave the process: the Redis guard's cool-off, the probe circuit's
  trial spacing and its Redis re-check (`jobs.limits.RedisGuard`, `Circuit`: both take
  `monotonic=`, default `time.monotonic`, so tests step it instead of sleeping) and the
  dispatcher's cache lifetimes and last-flush retry limit.
- **`time.perf_counter`**: the probe call's latency, for logs and metrics only; nothing
  decides by it, so it is read where it is measured (jobs/probe.py).
- asyncio's timers (`asyncio.timeout`, `asyncio.sleep`) run on the event loop's monotonic
  clock; `RateLimiter(sleep=)` lets a test replace its one wait for the next second.

The tools (probe simulator, embedded Redis) and bench/ stand outside the service and read
clocks as they like.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
