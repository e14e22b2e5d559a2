"""Edits that make expired-by-window messages reachable again bring them back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.message import Message, MessageStatus
from models.schedule import EXPIRED_BY_WINDOW
from tests.support.delivery import accepted, all_final, clients, in_state, mailing
from tests.support.engine import Engine, wait_for

UPDATE = """mutation($id: ID!, $input: MailingPatch!) {
  updateMailing(id: $id, input: $input) { id endAt } }"""
PAUSE = "mutation($id: ID!) { pauseMailing(id: $id) { state } }"
RESUME = "mutation($id: ID!) { resumeMailing(id: $id) { state } }"


def clock(at: datetime) -> str:
    return at.strftime("%H:%M")


async def _tokyo_expired(mailing_id: int) -> bool:
    rows = await Message.filter(mailing_id=mailing_id, timezone="Asia/Tokyo")
    return bool(rows) and all(m.status == MessageStatus.EXPIRED for m in rows)


async def test_widened_window_and_later_end_revive_expired_messages(engine: Engine) -> None:
    await clients(engine, 20, zone="UTC")
    await clients(engine, 10, zone="Asia/Tokyo", start=100)
    now = datetime.now(UTC)
    # Open now in UTC only; Tokyo (UTC+9) opens in ~14 h, after the end: expired at start.
    window = {"start": clock(now - timedelta(hours=1)), "end": clock(now + timedelta(hours=1))}
    engine.configure(latency_ms=600)  # slow enough that UTC is still sending when we pause
    await engine.start_worker(MAX_IN_FLIGHT="2", BATCH_SIZE="2")
    mid = await mailing(engine, end=timedelta(minutes=50), window=window)
    await wait_for(lambda: _tokyo_expired(mid), timeout=10, what="Tokyo expired by window")
    expired = await Message.filter(mailing_id=mid, timezone="Asia/Tokyo")
    assert {m.last_error for m in expired} == {EXPIRED_BY_WINDOW}
    await engine.gql.ok(PAUSE, id=str(mid))

    # Both zones open now (every local time but [now-2h, now-1h) UTC-clock), end in 2 days.
    wide = {"start": clock(now - timedelta(hours=1)), "end": clock(now - timedelta(hours=2))}
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    await engine.gql.ok(UPDATE, id=str(mid), input={"endAt": later, "window": wide})
    tokyo = await Message.filter(mailing_id=mid, timezone="Asia/Tokyo")
    assert {m.status for m in tokyo} == {MessageStatus.PENDING}
    assert all(m.last_error and m.last_error.startswith("revived") for m in tokyo)

    engine.configure(latency_ms=0)
    await engine.gql.ok(RESUME, id=str(mid))
    await wait_for(lambda: all_final(mid), timeout=30, what="every message final")
    await wait_for(lambda: in_state(mid, "FINISHED"), timeout=5, what="FINISHED")
    rows = await Message.filter(mailing_id=mid)
    assert len(rows) == 30 and {m.status for m in rows} == {MessageStatus.SENT}
    deliveries = accepted(engine)
    assert set(deliveries) == {m.id for m in rows}
    assert all(d.count == 1 for d in deliveries.values())
    assert engine.sim.state.stats()["duplicates"] == 0


async def test_an_edit_that_still_cannot_reach_keeps_them_expired(engine: Engine) -> None:
    await clients(engine, 3, zone="UTC")
    await clients(engine, 3, zone="Asia/Tokyo", start=100)
    now = datetime.now(UTC)
    window = {"start": clock(now - timedelta(hours=1)), "end": clock(now + timedelta(hours=1))}
    engine.configure(latency_ms=1000)
    await engine.start_worker(MAX_IN_FLIGHT="1", BATCH_SIZE="1")
    mid = await mailing(engine, end=timedelta(minutes=50), window=window)
    await wait_for(lambda: _tokyo_expired(mid), timeout=10, what="Tokyo expired by window")
    await engine.gql.ok(PAUSE, id=str(mid))
    # A later end that is still before Tokyo's opening: nothing to revive.
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    await engine.gql.ok(UPDATE, id=str(mid), input={"endAt": later})
    assert await _tokyo_expired(mid)
