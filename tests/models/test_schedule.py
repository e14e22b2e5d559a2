"""The sweep's statements (models/schedule.py), one at a time, at a fixed `now` on SQLite and
PostgreSQL: seed rows, run the statement, check every row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.client import Client
from models.mailing import Mailing, MailingState, Window
from models.message import Message, MessageStatus
from models.schedule import (
    EXPIRED_BY_END,
    EXPIRED_BY_WINDOW,
    cancel_orphans,
    expire_ended,
    finish_done,
    finish_unstarted_past_end,
    reclaim_expired_leases,
    schedule_windows,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
OFFICE = Window(9 * 3600, 17 * 3600)  # 09:00-17:00 local
# At NOW: open in UTC (12:00); closed in Tokyo (21:00), opening at 09:00 JST = 00:00 UTC.
TOKYO_OPENS = datetime(2030, 1, 2, 0, 0, tzinfo=UTC)
S = MessageStatus
M = MailingState
_phones = iter(range(79000000000, 79999999999))


async def mailing(
    state: M = M.RUNNING, *, end: datetime = NOW + 2 * 24 * HOUR, window: Window | None = None
) -> Mailing:
    return await Mailing.create(
        text="t",
        start_at=NOW - 24 * HOUR,
        end_at=end,
        state=state,
        window_start=window.start if window else None,
        window_end=window.end if window else None,
    )


async def client(zone: str = "UTC") -> Client:
    phone = str(next(_phones))
    return await Client.create(phone=phone, operator_code=phone[1:4], timezone=zone)


async def message(
    of: Mailing,
    status: S = S.PENDING,
    *,
    zone: str = "UTC",
    at: datetime = NOW,
    orphan: bool = False,
    lease_until: datetime | None = None,
) -> Message:
    owner = None if orphan else await client(zone)
    return await Message.create(
        mailing_id=of.id,
        client_id=owner.id if owner else None,
        phone=owner.phone if owner else "79000000000",
        timezone=zone,
        status=status,
        next_attempt_at=at,
        lease_owner="w1" if lease_until else None,
        lease_until=lease_until,
        updated_at=NOW - HOUR,
    )


async def row(seeded: Message) -> Message:
    return await Message.get(id=seeded.id)


async def unchanged(seeded: Message) -> bool:
    now = await row(seeded)
    return (now.status, now.next_attempt_at, now.updated_at) == (
        seeded.status,
        seeded.next_attempt_at,
        seeded.updated_at,
    )


# schedule_windows: one of three statements per zone.


async def test_a_zone_open_now_makes_its_waiting_pending_messages_due(database: str) -> None:
    m = await mailing(window=OFFICE)
    waiting = await message(m, at=NOW + 5 * HOUR)
    due = await message(m, at=NOW - HOUR)
    retrying = await message(m, S.RETRYING, at=NOW + HOUR)  # its backoff is kept
    await schedule_windows(m, NOW)
    assert ((await row(waiting)).next_attempt_at, (await row(waiting)).updated_at) == (NOW, NOW)
    assert await unchanged(due)  # already due: not touched
    assert await unchanged(retrying)


async def test_a_closed_zone_waits_for_its_next_opening(database: str) -> None:
    m = await mailing(window=OFFICE)
    pending = await message(m, zone="Asia/Tokyo", at=NOW)
    pending_later = await message(m, zone="Asia/Tokyo", at=TOKYO_OPENS + HOUR)
    retrying_sooner = await message(m, S.RETRYING, zone="Asia/Tokyo", at=NOW + HOUR)
    retrying_later = await message(m, S.RETRYING, zone="Asia/Tokyo", at=TOKYO_OPENS + HOUR)
    waiting = await message(m, zone="Asia/Tokyo", at=TOKYO_OPENS)
    sending = await message(m, S.SENDING, zone="Asia/Tokyo", at=NOW)
    await schedule_windows(m, NOW)
    # PENDING waits for the opening exactly (also moved earlier: a window edit may open it sooner)
    for moved in (pending, pending_later, retrying_sooner):
        after = await row(moved)
        assert (after.status, after.next_attempt_at, after.updated_at) == (
            moved.status,
            TOKYO_OPENS,
            NOW,
        )
    assert await unchanged(retrying_later)  # a RETRYING one waits at least that long
    assert await unchanged(waiting)  # its wait does not change: not touched
    assert await unchanged(sending)


async def test_a_zone_that_cannot_open_before_the_end_expires(database: str) -> None:
    m = await mailing(window=OFFICE, end=TOKYO_OPENS)  # Tokyo opens exactly at the end
    pending = await message(m, zone="Asia/Tokyo")
    retrying = await message(m, S.RETRYING, zone="Asia/Tokyo")
    sending = await message(m, S.SENDING, zone="Asia/Tokyo")
    open_zone = await message(m, zone="UTC")
    await schedule_windows(m, NOW)
    for expired in (pending, retrying):
        after = await row(expired)
        assert (after.status, after.last_error, after.updated_at) == (
            S.EXPIRED,
            EXPIRED_BY_WINDOW,
            NOW,
        )
    assert await unchanged(sending)
    assert await unchanged(open_zone)


async def test_a_stale_sweep_does_not_expire_after_an_edit(database: str) -> None:
    m = await mailing(window=OFFICE, end=TOKYO_OPENS)
    pending = await message(m, zone="Asia/Tokyo")
    await Mailing.filter(id=m.id).update(window_start=0, window_end=23 * 3600)  # edited since
    await schedule_windows(m, NOW)  # judged with the old window
    assert await unchanged(pending)
    await Mailing.filter(id=m.id).update(window_start=OFFICE.start, end_at=TOKYO_OPENS + HOUR)
    await schedule_windows(m, NOW)  # judged with the old end
    assert (await row(pending)).status == S.PENDING


async def test_without_a_window_only_the_end_expires(database: str) -> None:
    m = await mailing(end=NOW)
    pending = await message(m, zone="Asia/Tokyo", at=NOW + HOUR)
    live = await mailing()
    waiting = await message(live, zone="Asia/Tokyo", at=NOW + HOUR)
    await schedule_windows(m, NOW)
    await schedule_windows(live, NOW)
    assert ((await row(pending)).status, (await row(pending)).last_error) == (
        S.EXPIRED,
        EXPIRED_BY_WINDOW,
    )
    assert ((await row(waiting)).status, (await row(waiting)).next_attempt_at) == (S.PENDING, NOW)


# The sweep's set-based statements.


async def test_expire_ended(database: str) -> None:
    ended, paused = await mailing(end=NOW), await mailing(M.PAUSED, end=NOW - HOUR)
    running = await mailing(end=NOW + HOUR)
    finished = await mailing(M.FINISHED, end=NOW - HOUR)
    expired = [
        await message(ended),
        await message(ended, S.RETRYING),
        await message(paused),
    ]
    kept = [
        await message(ended, S.SENDING),
        await message(ended, S.SENT),
        await message(running),
        await message(finished),  # only RUNNING and PAUSED mailings are swept
    ]
    await expire_ended(NOW)
    for seeded in expired:
        after = await row(seeded)
        assert (after.status, after.last_error, after.updated_at) == (
            S.EXPIRED,
            EXPIRED_BY_END,
            NOW,
        )
    for seeded in kept:
        assert await unchanged(seeded)


async def test_cancel_orphans(database: str) -> None:
    running, cancelled = await mailing(), await mailing(M.CANCELLED)
    orphans = [
        await message(running, orphan=True),  # its client was deleted
        await message(running, S.RETRYING, orphan=True),
        await message(cancelled),
        await message(cancelled, S.RETRYING),
    ]
    kept = [
        await message(running),
        await message(running, S.SENDING, orphan=True),  # in flight: its outcome decides
        await message(running, S.SENT, orphan=True),
        await message(cancelled, S.FAILED),
    ]
    await cancel_orphans(NOW)
    for seeded in orphans:
        after = await row(seeded)
        assert (after.status, after.updated_at) == (S.CANCELLED, NOW)
    for seeded in kept:
        assert await unchanged(seeded)


async def test_reclaim_expired_leases(database: str) -> None:
    m = await mailing()
    lapsed = await message(m, S.SENDING, at=NOW - HOUR, lease_until=NOW - timedelta(seconds=1))
    leased = await message(m, S.SENDING, at=NOW - HOUR, lease_until=NOW + timedelta(seconds=1))
    ends_now = await message(m, S.SENDING, at=NOW - HOUR, lease_until=NOW)
    await reclaim_expired_leases(NOW)
    after = await row(lapsed)
    assert (after.status, after.next_attempt_at, after.lease_owner, after.lease_until) == (
        S.RETRYING,
        NOW,
        None,
        None,
    )
    assert await unchanged(leased)
    assert await unchanged(ends_now)  # a lease is held up to and including its instant


async def test_finish_done(database: str) -> None:
    done = await mailing()
    await message(done, S.SENT)
    await message(done, S.FAILED)
    empty = await mailing()
    paused_ended = await mailing(M.PAUSED, end=NOW)
    await message(paused_ended, S.EXPIRED)
    pending, sending = await mailing(), await mailing()
    await message(pending, S.PENDING)
    await message(sending, S.SENDING)
    paused = await mailing(M.PAUSED)  # may be resumed: not done while its end is ahead
    await message(paused, S.SENT)
    scheduled = await mailing(M.SCHEDULED)
    finished = sorted([done.id, empty.id, paused_ended.id])
    assert sorted(await finish_done(NOW)) == finished
    states = dict(await Mailing.all().values_list("id", "state"))
    assert {mid for mid, state in states.items() if state == M.FINISHED} == set(finished)
    assert (await Mailing.get(id=done.id)).finished_at == NOW
    assert states[pending.id] == states[sending.id] == M.RUNNING
    assert (states[paused.id], states[scheduled.id]) == (M.PAUSED, M.SCHEDULED)
    assert await finish_done(NOW) == []  # a second sweep changes nothing


async def test_finish_unstarted_past_end(database: str) -> None:
    lapsed, ahead = await mailing(M.SCHEDULED, end=NOW), await mailing(M.SCHEDULED)
    running = await mailing(M.RUNNING, end=NOW - HOUR)
    await finish_unstarted_past_end(NOW)
    after = await Mailing.get(id=lapsed.id)
    assert (after.state, after.finished_at) == (M.FINISHED, NOW)
    assert (await Mailing.get(id=ahead.id)).state == M.SCHEDULED
    assert (await Mailing.get(id=running.id)).state == M.RUNNING
