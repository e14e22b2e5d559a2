"""The cron sweep: repairs whatever Redis or a crashed worker lost, every few seconds."""

from __future__ import annotations

import logging
from typing import Any

from models import schedule
from models.idempotency import purge_expired

log = logging.getLogger("herald.worker")


async def sweep(ctx: dict[str, Any]) -> None:
    """Start due mailings, reclaim expired leases, expire ended mailings' messages, keep
    windowed messages waiting for their zone's opening, finish what is done, and purge
    idempotency keys older than a day."""
    now = ctx["clock"]()
    for mailing_id in await schedule.due_mailing_ids(now):
        if await schedule.start_mailing(mailing_id, now):
            log.info("mailing started by the sweep", extra={"mailing_id": mailing_id})
    active = await schedule.active_mailing_ids()
    await schedule.finish_unstarted_past_end(now)
    await schedule.reclaim_expired_leases(now)
    await schedule.expire_ended(now)
    await schedule.cancel_orphans(now)
    for mailing in await schedule.windowed_running(now):
        await schedule.schedule_windows(mailing, now)
    finished = await schedule.finish_done(now)
    await purge_expired(now)
    for mailing_id in finished:
        log.info("mailing finished", extra={"mailing_id": mailing_id})
    await ctx["publish"](set(active) | set(finished))
