"""A delivery worker: the send loop, and the arq worker (start jobs, cron sweep) beside it.

`herald worker` runs one as its own process; `herald serve` runs one in-process. The database
is the source of truth and Redis only carries hints, so losing Redis must not stop delivery:
the send loop needs only the database, and the arq part is supervised. When Redis goes away
(down, or hung: every call has a timeout) arq stops, the sweep runs locally on the same
interval, the circuit, rate limit and notifications degrade to this process (jobs/limits.py),
and arq starts again once Redis answers. A stop is a drain (jobs/dispatch.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from arq import Worker
from arq.connections import ArqRedis, RedisSettings
from arq.cron import cron

from jobs.dispatch import Dispatcher
from jobs.limits import Circuit, RateLimiter, RedisGuard
from jobs.probe import ProbeClient
from jobs.report import ReportService, report_job
from jobs.settings import DeliverySettings
from jobs.start import start_mailing_job
from jobs.sweep import sweep
from models import health

log = logging.getLogger("herald.worker")
FORGET_TIMEOUT = 10.0  # seconds: longer than SQLite's busy timeout (5 s)
HEARTBEAT_EVERY = 5.0  # seconds at most between two heartbeats (fewer with a short SWEEP_INTERVAL)
HEARTBEAT_TIMEOUT = 10.0  # seconds for one beat: over SQLite's busy timeout, so it waits its turn
REDIS_TIMEOUT = 2.0  # seconds for any one Redis call (connect, command)
# The change publisher (herald/events.py `publish`): may raise RedisError, OSError or
# TimeoutError; the worker calls it through its RedisGuard (one log line per outage).
Publish = Callable[[Any, str, Iterable[int]], Awaitable[None]]


def worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"


def redis_client(
    settings: RedisSettings, queue_name: str, *, read_timeout: float | None = REDIS_TIMEOUT
) -> ArqRedis:
    """An arq Redis client that connects lazily (arq's create_pool pings first and gives up
    after a few tries: a worker must start, and send, while Redis is away) and never waits
    more than REDIS_TIMEOUT to connect or, unless `read_timeout` is None (a pub/sub listener
    idles on its reads), for an answer."""
    return ArqRedis(
        host=settings.host,
        port=settings.port,
        unix_socket_path=settings.unix_socket_path,
        db=settings.database,
        username=settings.username,
        password=settings.password,
        ssl=settings.ssl,
        socket_connect_timeout=REDIS_TIMEOUT,
        socket_timeout=read_timeout,
        encoding="utf8",
        default_queue_name=queue_name,
    )


class DeliveryWorker:
    """`task = asyncio.create_task(w.run())`, later `w.stop(); await task`. The composition
    root passes the clock and the change publisher (`publish(redis, queue_name, mailing_ids)`)."""

    def __init__(
        self,
        settings: DeliverySettings,
        redis_settings: RedisSettings,
        *,
        clock: Callable[[], datetime],
        publish: Publish,
        queue_name: str | None = None,
        probe: ProbeClient | None = None,
        report: ReportService | None = None,
    ) -> None:
        self.settings, self.clock = settings, clock
        self.queue_name = queue_name or settings.queue_name
        self.redis = redis_client(redis_settings, self.queue_name)
        self.guard = RedisGuard()
        self.owner = worker_id()  # its leases and its heartbeat
        self._own_probe = probe is None
        self.probe = probe or ProbeClient(
            settings.probe_url,
            settings.probe_token.get(),
            timeout=settings.probe_timeout,
            max_connections=settings.max_in_flight,
            clock=clock,
        )
        self.dispatcher = Dispatcher(
            probe=self.probe,
            settings=settings,
            circuit=Circuit(self.redis, self.queue_name, settings.circuit_trial, self.guard),
            limiter=RateLimiter(
                self.redis, settings.max_rate, self.queue_name, self.guard, clock=clock
            ),
            owner=self.owner,
            clock=clock,
            announce=self._publish,  # the one guarded publisher, shared with the sweep
        )
        self.ctx: dict[str, Any] = {
            "clock": clock,
            "publish": self._publish,
            "queue_name": self.queue_name,
            "redis": self.redis,
            "guard": self.guard,
            "report": report,  # the daily report e-mail: a cron job below when configured
        }
        self.stopping = asyncio.Event()
        self.arq: Worker | None = None
        self._publisher = publish

    async def _publish(self, mailing_ids: Iterable[int]) -> None:
        """Announce changes through the guard: a Redis that is away costs one log line per
        outage, not one per sweep."""
        ids = list(mailing_ids)
        await self.guard.call(lambda: self._publisher(self.redis, self.queue_name, ids), None)

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        sending = asyncio.create_task(self.dispatcher.run())
        beating = asyncio.create_task(self._heartbeat())
        try:
            while not self.stopping.is_set():
                if await self._run_arq():
                    break
                await self._sweep_locally()
        finally:
            self.dispatcher.stop()
            self.stopping.set()  # also when arq failed: the heartbeat ends, removing its row
            await beating
            await sending  # the drain: every outcome written before the clients close
            await self._forget_heartbeat()
            if self._own_probe:
                await self.probe.close()
            await self.redis.aclose(close_connection_pool=True)

    async def _heartbeat(self) -> None:
        """Record in the database, every few seconds, that this worker is alive (readiness
        and `herald doctor` read it); a database that does not answer is logged once per
        outage. A clean stop removes the row, after the drain (run())."""
        every = min(HEARTBEAT_EVERY, self.settings.sweep_interval)
        host, pid = socket.gethostname(), os.getpid()
        failing = False
        while not self.stopping.is_set():
            try:
                async with asyncio.timeout(HEARTBEAT_TIMEOUT):
                    await health.beat(self.owner, host, pid, self.clock())
            except Exception as exc:
                if not failing:
                    log.warning("heartbeat not recorded (%s); retrying", type(exc).__name__)
                failing = True
            else:
                if failing:
                    log.warning("heartbeat recorded again")
                failing = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), every)

    async def _forget_heartbeat(self) -> None:
        """Remove this worker's heartbeat once nothing else writes: removed while the drain
        was still flushing, the delete could wait out its timeout on SQLite's write lock and
        leave a row that readiness then reported as a stale worker."""
        try:
            async with asyncio.timeout(FORGET_TIMEOUT):
                await health.forget(self.owner)
        except Exception as exc:
            log.warning("heartbeat row not removed (%s): it goes stale", type(exc).__name__)

    def _arq_worker(self) -> Worker:
        step = max(1, int(self.settings.sweep_interval))
        return Worker(
            functions=[start_mailing_job],
            cron_jobs=[
                cron(
                    sweep,
                    # Named per queue: arq's job keys are global, so two Heralds on one Redis
                    # would otherwise skip each other's sweeps as duplicates.
                    name=f"cron:{self.queue_name}:sweep",
                    second=set(range(0, 60, step)),
                    run_at_startup=True,
                    unique=True,
                    timeout=60,
                ),
                *self._report_cron(),
            ],
            queue_name=self.queue_name,
            redis_pool=self.redis,
            handle_signals=False,
            poll_delay=0.2,
            max_jobs=20,
            keep_result=60,
            log_results=False,
            ctx=self.ctx,
        )

    def _report_cron(self) -> list[Any]:
        """The daily report e-mail, when configured: every minute, and the rows decide what
        is due (models/report.py), so a run missed while Redis was away is made up next time."""
        report: ReportService | None = self.ctx["report"]
        if report is None:
            return []
        return [
            cron(
                report_job,
                name=f"cron:{self.queue_name}:report",
                second={30},
                run_at_startup=True,  # a worker started after report time sends at once
                unique=True,
                timeout=report.lease.total_seconds(),
            )
        ]

    async def _run_arq(self) -> bool:
        """Run arq until the stop (True) or until it fails, i.e. Redis went away (False)."""
        self.arq = worker = self._arq_worker()
        main = asyncio.create_task(worker.async_run())
        stopped = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({main, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        # A sweep cut short is harmless: it is idempotent.
        results = await _cancel_until_done([main, *worker.tasks.values()])
        if self.stopping.is_set():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(REDIS_TIMEOUT):
                    await self.redis.delete(worker.health_check_key)
            return True
        failure = results[0]  # Redis went away: logged once, by the guard
        self.guard.failed(failure if isinstance(failure, BaseException) else None)
        return False

    async def _sweep_locally(self) -> None:
        """While Redis is away: sweep every SWEEP_INTERVAL, and look for Redis each time."""
        while not self.stopping.is_set():
            try:
                await sweep(self.ctx)
            except Exception:
                log.exception("local sweep failed; retrying")
            if await self._redis_answers():
                self.guard.succeeded()  # logged once, by the guard; arq starts again
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.settings.sweep_interval)

    async def _redis_answers(self) -> bool:
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                await self.redis.ping()
        except Exception:
            return False
        return True


async def _cancel_until_done(tasks: list[asyncio.Task[Any]], every: float = 0.5) -> list[Any]:
    """Cancel the tasks and collect their results, cancelling again while any still runs: a
    cancellation can be swallowed on the way (seen under load inside arq's poll loop, where a
    Redis read's own timeout fired at the same moment), and one lost cancel must not keep a
    process from stopping."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every)
    return await asyncio.gather(*tasks, return_exceptions=True)
