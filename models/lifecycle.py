"""Mailing lifecycle: create, edit, delete, pause, resume, cancel (compare-and-set on state)."""

from __future__ import annotations

from datetime import datetime

from models.attempts import MessageAttempt
from models.errors import IllegalTransition, NotFound
from models.mailing import (
    AudienceFilter,
    Mailing,
    MailingData,
    MailingPatch,
    MailingState,
    apply_patch,
    check_patch,
    clone_period,
    validate_mailing,
)
from models.message import Message, MessageStatus
from models.schedule import revive_reachable
from models.sql import lock_messages, write_transaction
from models.stats import MailingStat
from models.testsend import TestSend
from models.text import fold
from models.transitions import MailingEvent, cancel_mailing_messages, move_mailings


async def get_mailing(mailing_id: int) -> Mailing:
    mailing = await Mailing.get_or_none(id=mailing_id)
    if mailing is None:
        raise NotFound(f"mailing {mailing_id} not found", field="id")
    return mailing


async def create_mailing(data: MailingData) -> Mailing:
    return await Mailing.create(
        text=data.text,
        text_folded=fold(data.text),
        start_at=data.start_at,
        end_at=data.end_at,
        operator_codes=list(data.filter.operator_codes),
        tags=list(data.filter.tags),
        window_start=data.window.start if data.window else None,
        window_end=data.window.end if data.window else None,
    )


async def clone_mailing(
    mailing_id: int, start_at: datetime | None, end_at: datetime | None, now: datetime
) -> Mailing:
    """A new SCHEDULED mailing with the source's text, filter and window, whatever the
    source's state (re-running a finished campaign is the usual case); its period as
    `clone_period` says, validated like a new mailing's. Messages, statistics and test sends
    stay with the source: the copy snapshots its own audience when it starts."""
    source = await get_mailing(mailing_id)
    start, end = clone_period(source, start_at, end_at, now)
    audience = AudienceFilter(tuple(source.operator_codes), tuple(source.tags))
    data = validate_mailing(source.text, start, end, audience, source.window, now)
    return await create_mailing(data)


async def update_mailing(mailing_id: int, patch: MailingPatch, now: datetime) -> Mailing:
    """Edit under the state rules; the state is re-checked in the UPDATE so a mailing that
    started meanwhile is not edited as if it were still SCHEDULED. On a started mailing, a new
    endAt or window applies to the messages in the same transaction: waits computed for the
    old window end now, and messages expired because their window could not open before the
    old end come back where it can open before the new one."""
    while True:
        mailing = await get_mailing(mailing_id)
        check_patch(mailing, patch, now)
        columns = apply_patch(mailing, patch)
        if not columns:
            return mailing
        if await _save_edit(mailing, {n: getattr(mailing, n) for n in columns}, patch, now):
            return await get_mailing(mailing_id)


@write_transaction
async def _save_edit(
    mailing: Mailing, values: dict[str, object], patch: MailingPatch, now: datetime
) -> bool:
    """False if the state moved since it was read (the caller re-checks the patch)."""
    updated = await Mailing.filter(id=mailing.id, state=mailing.state).update(
        **values, updated_at=now
    )
    if updated and mailing.state in (MailingState.RUNNING, MailingState.PAUSED):
        await _apply_timing_edit(mailing, patch, now)
    return bool(updated)


async def _apply_timing_edit(mailing: Mailing, patch: MailingPatch, now: datetime) -> None:
    changed = patch.changed()
    if "window" in changed:
        # Waits computed for the old window no longer hold: make them due now; the sweep
        # and the send loop apply the new window per time zone from here.
        await Message.filter(
            mailing_id=mailing.id, status=MessageStatus.PENDING, next_attempt_at__gt=now
        ).update(next_attempt_at=now)
    if {"window", "end_at"} & changed:
        await revive_reachable(mailing, now)


@write_transaction
async def delete_mailing(mailing_id: int, now: datetime) -> None:
    """Delete a mailing with its messages, their attempt history and counters, in whatever
    state, in one transaction: its commit is also the stop (the worker finds nothing more to
    claim, and an outcome for a message already gone matches no row).

    A running mailing's messages are being written by the worker meanwhile, so locks are taken
    in the one order every writer of messages uses: the mailing row, then its message rows in
    id order (models/delivery.py writes outcomes in id order too), and only then the counter
    rows the message triggers update. Nothing is cancelled before the delete: every change to
    a message also locks counter rows, and holding those while waiting for message rows the
    worker holds is how this deadlocked."""
    mailing = await Mailing.select_for_update().get_or_none(id=mailing_id)
    if mailing is None:
        raise NotFound(f"mailing {mailing_id} not found", field="id")
    await lock_messages("mailing_id", mailing_id)
    await Message.filter(mailing_id=mailing_id).delete()
    await MailingStat.filter(mailing_id=mailing_id).delete()  # after: the delete updates them
    await TestSend.filter(mailing_id=mailing_id).delete()  # before the row their FK names
    await MessageAttempt.filter(mailing_id=mailing_id).delete()
    await Mailing.filter(id=mailing_id).delete()


async def _move(mailing_id: int, event: MailingEvent, verb: str, now: datetime) -> Mailing:
    assign = {"finished_at": now} if event == MailingEvent.CANCEL else {}
    updated = await move_mailings(event, now, assign=assign, id=mailing_id)
    mailing = await get_mailing(mailing_id)
    if not updated:
        raise IllegalTransition(f"cannot {verb} a mailing that is {mailing.state.value}")
    return mailing


async def pause_mailing(mailing_id: int, now: datetime) -> Mailing:
    return await _move(mailing_id, MailingEvent.PAUSE, "pause", now)


async def resume_mailing(mailing_id: int, now: datetime) -> Mailing:
    """A paused mailing goes back to RUNNING if it had started, else to SCHEDULED."""
    mailing = await get_mailing(mailing_id)
    started = mailing.started_at is not None
    event = MailingEvent.RESUME if started else MailingEvent.RESUME_UNSTARTED
    return await _move(mailing_id, event, "resume", now)


@write_transaction
async def cancel_mailing(mailing_id: int, now: datetime) -> Mailing:
    mailing = await _move(mailing_id, MailingEvent.CANCEL, "cancel", now)
    await lock_messages("mailing_id", mailing_id)
    await cancel_mailing_messages(mailing_id, now)
    return mailing
