"""The arq worker: the start job, the cron sweep and, beside them, the send loop.

`herald worker` runs it as its own process; `herald serve` runs one in-process (with
handle_signals=False: arq's own SIGTERM handling would stop uvicorn from seeing it)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

from arq import Worker
from arq.connections import RedisSettings
from arq.cron import cron

from herald.clock import utc_now
from herald.settings import Settings
from jobs.dispatch import Dispatcher
from jobs.limits import Circuit, RateLimiter
from jobs.probe import ProbeClient
from jobs.start import start_mailing_job
from jobs.sweep import sweep


def worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"


def build_worker(
    settings: Settings,
    redis_settings: RedisSettings,
    *,
    handle_signals: bool,
    clock: Callable[[], datetime] = utc_now,
    queue_name: str | None = None,
    probe: ProbeClient | None = None,
) -> Worker:
    queue_name = queue_name or settings.queue_name

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["clock"] = clock
        ctx["queue_name"] = queue_name
        ctx["probe"] = probe or ProbeClient(
            settings.probe_url,
            settings.probe_token.get(),
            timeout=settings.probe_timeout,
            max_connections=settings.max_in_flight,
        )
        prefix = queue_name
        dispatcher = Dispatcher(
            probe=ctx["probe"],
            settings=settings,
            circuit=Circuit(ctx["redis"], prefix, settings.circuit_trial),
            limiter=RateLimiter(ctx["redis"], settings.max_rate, prefix),
            owner=worker_id(),
            clock=clock,
            redis=ctx["redis"],
        )
        ctx["dispatcher"] = dispatcher
        ctx["dispatch_task"] = asyncio.create_task(dispatcher.run())

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "dispatcher" in ctx:
            ctx["dispatcher"].stop()
            await ctx["dispatch_task"]
        if probe is None and "probe" in ctx:
            await ctx["probe"].close()

    step = max(1, int(settings.sweep_interval))
    return Worker(
        functions=[start_mailing_job],
        cron_jobs=[
            cron(
                sweep, second=set(range(0, 60, step)), run_at_startup=True, unique=True, timeout=60
            )
        ],
        queue_name=queue_name,
        redis_settings=redis_settings,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=handle_signals,
        poll_delay=0.2,
        max_jobs=20,
        keep_result=60,
        log_results=False,
        ctx={},
    )


async def stop_worker(worker: Worker, task: asyncio.Task[None] | None = None) -> None:
    """Stop an arq worker and run its shutdown, even when jobs were running.

    arq's own close() cancels running jobs (a sweep: harmless, it is idempotent) and then
    gathers them, which re-raises their CancelledError and skips on_shutdown: the send loop,
    the probe client and the Redis pool would be left open. So the same steps are done here,
    collecting the cancelled jobs instead of re-raising."""
    worker.handle_sig(signal.SIGUSR1)  # cancels running jobs and the main task
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    pool = getattr(worker, "_pool", None)
    if pool is None:
        return
    with contextlib.suppress(Exception):
        await pool.delete(worker.health_check_key)
    try:
        if worker.on_shutdown:
            await worker.on_shutdown(worker.ctx)
    finally:
        worker._pool = None
        await pool.aclose(close_connection_pool=True)
