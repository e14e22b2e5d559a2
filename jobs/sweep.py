"""The cron sweep: repairs whatever Redis or a crashed worker lost, every few seconds."""

from __future__ import annotations

import logging
from typing import Any

import metrics
from models import schedule
from models.idempotency import purge_expired
from models.mailing import Mailing, MailingState
from models.stats import unsent_counts

log = logging.getLogger("herald.worker")


async def sweep(ctx: dict[str, Any]) -> None:
    """Start due mailings, reclaim expired leases, expire ended mailings' messages, keep
    windowed messages waiting for their zone's opening, finish what is done, and purge
    idempotency keys older than a day."""
    with metrics.SWEEP_DURATION.time():
        await _sweep(ctx)


async def _sweep(ctx: dict[str, Any]) -> None:
    now = ctx["clock"]()
    for mailing_id in await schedule.due_mailing_ids(now):
        if await schedule.start_mailing(mailing_id, now):
            metrics.MAILING_TRANSITIONS.labels(event="start").inc()
            log.info("mailing started by the sweep", extra={"mailing_id": mailing_id})
    active = await schedule.active_mailing_ids()
    if lapsed := await schedule.finish_unstarted_past_end(now):
        metrics.MAILING_TRANSITIONS.labels(event="lapse").inc(lapsed)
    await schedule.reclaim_expired_leases(now)
    await schedule.expire_ended(now)
    await schedule.cancel_orphans(now)
    for mailing in await schedule.windowed_running(now):
        await schedule.schedule_windows(mailing, now)
    finished = await schedule.finish_done(now)
    metrics.MAILING_TRANSITIONS.labels(event="finish").inc(len(finished))
    await purge_expired(now)
    for mailing_id in finished:
        log.info("mailing finished", extra={"mailing_id": mailing_id})
    running = await Mailing.filter(state=MailingState.RUNNING).values_list("id", flat=True)
    backlog = await unsent_counts([int(str(r)) for r in running])
    metrics.DUE_BACKLOG.set(sum(backlog.values()))
    await ctx["publish"](set(active) | set(finished))
