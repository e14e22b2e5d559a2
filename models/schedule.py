"""What the sweep and the start job do to mailings: start what is due, keep windowed messages
waiting for their zone's next opening, expire what can no longer be sent, reclaim expired
leases and finish what is done. Every step is one set-based statement (or one per time zone),
safe to repeat: a job that runs twice, or two workers sweeping at once, change nothing more."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from models.audience import fan_out
from models.mailing import Mailing, MailingState, Window
from models.message import Message, MessageStatus
from models.sql import execute, fetch, write_statements, write_transaction
from models.transitions import (
    NOT_FINAL,
    UNSENT,
    MailingEvent,
    MessageEvent,
    mailing_cas,
    message_cas,
    move_mailings,
    move_messages,
    sql_list,
)
from models.windows import next_openings, opening_before_end
from models.windows import zone as zone_info

UNSENT_SQL = sql_list(UNSENT)
# Why a message was EXPIRED (message.last_error): only the first can be undone by an edit.
EXPIRED_BY_WINDOW = "window cannot open before endAt"
EXPIRED_BY_END = "endAt passed"
REVIVED = "revived: window/endAt edited"


async def start_mailing(mailing_id: int, now: datetime) -> bool:
    """SCHEDULED → RUNNING and snapshot the audience, in one transaction (a crash between the
    two leaves the mailing SCHEDULED, to be started again). True if this call started it."""
    mailing = await _start_and_fan_out(mailing_id, now)
    if mailing is None:
        return False
    await schedule_windows(mailing, now)
    return True


@write_transaction
async def _start_and_fan_out(mailing_id: int, now: datetime) -> Mailing | None:
    started = await move_mailings(
        MailingEvent.START,
        now,
        assign={"started_at": now},
        id=mailing_id,
        start_at__lte=now,
        end_at__gt=now,
    )
    if not started:
        return None
    mailing = await Mailing.get(id=mailing_id)
    await fan_out(mailing, now)
    return mailing


async def active_mailing_ids() -> list[int]:
    """RUNNING and PAUSED mailings: whose counts a sweep may have changed."""
    rows = await Mailing.filter(state__in=[MailingState.RUNNING, MailingState.PAUSED]).values_list(
        "id", flat=True
    )
    return [int(str(r)) for r in rows]


async def due_mailing_ids(now: datetime) -> list[int]:
    rows = await Mailing.filter(state=MailingState.SCHEDULED, start_at__lte=now).values_list(
        "id", flat=True
    )
    return [int(str(r)) for r in rows]


UNSENT_ZONES = (
    "SELECT DISTINCT timezone FROM message WHERE mailing_id = :mailing_id"
    f" AND status IN {UNSENT_SQL}"
)
# schedule_windows, per time zone of a mailing: one of three statements.
IN_ZONE = "mailing_id = :mailing_id AND timezone = :zone"
# The zone's next opening is no earlier than the end: its unsent messages expire. Only if the
# mailing still has the end and window it was judged by: an edit that revived these messages
# meanwhile must not be undone by a stale sweep.
EXPIRE_UNREACHABLE_ZONE = message_cas(
    MessageEvent.EXPIRE,
    assign="last_error = :reason, updated_at = :now",
    where=f"{IN_ZONE} AND EXISTS (SELECT 1 FROM mailing WHERE id = :mailing_id"
    " AND end_at <= :opening AND {same_window})",
)
SAME_WINDOW = "window_start = :window_start AND window_end = :window_end"
NO_WINDOW = "window_start IS NULL"
# The zone is open now: messages still waiting for a later opening become due.
MAKE_ZONE_DUE = (
    "UPDATE message SET next_attempt_at = :now, updated_at = :now"
    f" WHERE {IN_ZONE} AND status = '{MessageStatus.PENDING}' AND next_attempt_at > :now"
)
# The zone is closed: PENDING messages wait for its next opening, RETRYING ones at least that
# long. Only rows whose wait changes are touched (not every row on every sweep).
WAIT_FOR_OPENING = (
    "UPDATE message SET next_attempt_at = :opening, updated_at = :now"
    f" WHERE {IN_ZONE} AND ((status = '{MessageStatus.PENDING}' AND next_attempt_at <> :opening)"
    f" OR (status = '{MessageStatus.RETRYING}' AND next_attempt_at < :opening))"
)


def _expire_unreachable(window: Window | None) -> tuple[str, dict[str, int]]:
    """EXPIRE_UNREACHABLE_ZONE guarded by the window the sweep judged with, and its values."""
    if window is None:
        return EXPIRE_UNREACHABLE_ZONE.format(same_window=NO_WINDOW), {}
    values = {"window_start": window.start, "window_end": window.end}
    return EXPIRE_UNREACHABLE_ZONE.format(same_window=SAME_WINDOW), values


async def unsent_zones(mailing_id: int) -> list[str]:
    rows = await fetch(UNSENT_ZONES, mailing_id=mailing_id)
    return [str(r["timezone"]) for r in rows]


async def schedule_windows(mailing: Mailing, now: datetime) -> None:
    """Per time zone (never per client): PENDING messages wait for their zone's next window
    opening, RETRYING ones at least that long; a zone whose window cannot open before the end
    has its messages EXPIRED. Re-run by every sweep, so edits of window/endAt apply."""
    zones = await unsent_zones(mailing.id)
    window = mailing.window
    openings = next_openings(now, window, zones) if window else dict.fromkeys(zones, now)
    for zone, opening in openings.items():
        zone_of = {"mailing_id": mailing.id, "zone": zone, "now": now.astimezone(UTC)}
        if opening >= mailing.end_at:
            sql, judged_by = _expire_unreachable(window)
            at = opening.astimezone(UTC)
            await execute(sql, reason=EXPIRED_BY_WINDOW, opening=at, **zone_of, **judged_by)
        elif opening <= now:
            await execute(MAKE_ZONE_DUE, **zone_of)
        else:
            await execute(WAIT_FOR_OPENING, opening=opening.astimezone(UTC), **zone_of)


async def revive_reachable(mailing: Mailing, now: datetime) -> int:
    """After an edit of endAt or window: messages EXPIRED because their zone's window could
    not open before the old end come back (PENDING, due now) where it can open before the new
    one; the sweep's schedule_windows then makes them wait for that opening. Messages expired
    because the end passed stay expired. Returns how many came back."""
    if mailing.end_at <= now:
        return 0
    expired = {"mailing_id": mailing.id, "last_error": EXPIRED_BY_WINDOW}
    zones = set(
        await Message.filter(status=MessageStatus.EXPIRED, **expired)
        .distinct()
        .values_list("timezone", flat=True)
    )
    window = mailing.window
    reachable = [
        str(name)
        for name in zones
        if window is None or opening_before_end(now, window, zone_info(str(name)), mailing.end_at)
    ]
    if not reachable:
        return 0
    return await move_messages(
        MessageEvent.REVIVE,
        now,
        assign={"next_attempt_at": now, "last_error": REVIVED},
        timezone__in=reachable,
        **expired,
    )


EXPIRE_ENDED = message_cas(
    MessageEvent.EXPIRE,
    assign="last_error = :reason, updated_at = :now",
    where="mailing_id IN (SELECT id FROM mailing WHERE end_at <= :now"
    f" AND state IN {sql_list({MailingState.RUNNING, MailingState.PAUSED})})",
)
CANCEL_ORPHANS = message_cas(
    MessageEvent.CANCEL,
    assign="updated_at = :now",
    where="client_id IS NULL"
    f" OR mailing_id IN (SELECT id FROM mailing WHERE state = '{MailingState.CANCELLED}')",
)
RECLAIM_EXPIRED_LEASES = message_cas(
    MessageEvent.RECLAIM,
    assign="next_attempt_at = :now, lease_owner = NULL, lease_until = NULL, updated_at = :now",
    where="lease_until < :now",
)
FINISH_DONE = (
    mailing_cas(
        MailingEvent.FINISH,
        assign="finished_at = :now, updated_at = :now",
        where=f"(mailing.state = '{MailingState.RUNNING}' OR mailing.end_at <= :now)"
        " AND NOT EXISTS (SELECT 1 FROM message m WHERE m.mailing_id = mailing.id"
        f" AND m.status IN {sql_list(NOT_FINAL)})",
    )
    + " RETURNING id"
)


async def _sweep(sql: str, now: datetime, **params: Any) -> None:
    """Run one set-based UPDATE at the sweep's time. It locks rows in scan order, so on
    PostgreSQL it may deadlock with a delete: retried. On SQLite the write lock is held only
    while it runs, not while a busy worker's event loop comes back to it."""
    await write_statements((sql, {"now": now.astimezone(UTC), **params}))


async def expire_ended(now: datetime) -> None:
    """Messages of mailings whose end has passed can no longer be sent."""
    await _sweep(EXPIRE_ENDED, now, reason=EXPIRED_BY_END)


async def cancel_orphans(now: datetime) -> None:
    """Unsent messages of a cancelled mailing or of a deleted client (a send in flight at
    that moment that then failed transiently) end CANCELLED too."""
    await _sweep(CANCEL_ORPHANS, now)


async def reclaim_expired_leases(now: datetime) -> None:
    """A worker that died mid-send leaves SENDING rows; after their lease they are retried
    (the probe sees the same msgId, so it can recognise a repeat)."""
    await _sweep(RECLAIM_EXPIRED_LEASES, now)


async def finish_done(now: datetime) -> list[int]:
    """RUNNING (or ended PAUSED) mailings with nothing left to send become FINISHED."""
    rows = await fetch(FINISH_DONE, now=now.astimezone(UTC))
    return [int(r["id"]) for r in rows]


async def finish_unstarted_past_end(now: datetime) -> int:
    """A SCHEDULED mailing whose whole period passed (the service was down) never started:
    it finishes with no messages rather than sending late. Returns how many did."""
    return await move_mailings(
        MailingEvent.LAPSE, now, assign={"finished_at": now}, end_at__lte=now
    )


async def windowed_running(now: datetime) -> list[Mailing]:
    return list(
        await Mailing.filter(state=MailingState.RUNNING, window_start__isnull=False, end_at__gt=now)
    )
