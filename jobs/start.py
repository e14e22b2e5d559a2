"""Starting mailings on time: a deferred arq job per mailing, with a fixed job id."""

from __future__ import annotations

import logging
from typing import Any

import metrics
from models.mailing import Mailing, MailingState
from models.schedule import start_mailing

log = logging.getLogger("herald.worker")


def start_job_id(queue_name: str, mailing: Mailing) -> str:
    """One id per (mailing, start time): re-saving a mailing does not queue it twice, and a
    new start time gets its own job (the old one finds nothing to do). arq's job keys are not
    per queue, so the queue name is part of the id: two Heralds sharing one Redis never take
    each other's job for their own."""
    return f"{queue_name}:start:{mailing.id}:{int(mailing.start_at.timestamp())}"


async def enqueue_start(redis: Any, queue_name: str, mailing: Mailing) -> None:
    """Ask the worker to start the mailing at its start time. Losing this job is harmless:
    the sweep starts any due SCHEDULED mailing within a few seconds."""
    if mailing.state != MailingState.SCHEDULED:
        return
    await redis.enqueue_job(
        "start_mailing_job",
        mailing.id,
        _job_id=start_job_id(queue_name, mailing),
        _defer_until=mailing.start_at,
        _queue_name=queue_name,
    )


async def start_mailing_job(ctx: dict[str, Any], mailing_id: int) -> bool:
    started = await start_mailing(mailing_id, ctx["clock"]())
    if started:
        metrics.MAILING_TRANSITIONS.labels(event="start").inc()
        log.info("mailing started", extra={"mailing_id": mailing_id})
        await ctx["publish"]([mailing_id])
    return started
