"""The delivery engine end to end: GraphQL → arq worker → probe simulator over HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from herald.clock import utc_now
from herald.settings import Settings
from jobs.dispatch import Dispatcher
from jobs.limits import Circuit, RateLimiter
from jobs.pacing import INITIAL_WINDOW
from jobs.probe import ProbeClient
from models.delivery import Scope, claim
from models.mailing import Mailing
from models.message import Message, MessageStatus
from models.schedule import start_mailing
from tests.support.delivery import (
    accepted,
    all_final,
    clients,
    counters_match_messages,
    in_state,
    mailing,
    mailing_state,
    sim_at_least,
    status_counts,
)
from tests.support.engine import Engine, forget, wait_for


async def test_immediate_start_sends_each_message_once(engine: Engine) -> None:
    await clients(engine, 120)
    await clients(engine, 30, tag="other", start=500)
    await engine.start_worker()
    mid = await mailing(engine, filter={"tags": []})
    await wait_for(lambda: all_final(mid), what="all messages final")
    await wait_for(lambda: in_state(mid, "FINISHED"), timeout=5, what="FINISHED")
    rows = await Message.filter(mailing_id=mid)
    assert len(rows) == 150 and {m.status for m in rows} == {MessageStatus.SENT}
    deliveries = accepted(engine)
    ids = {m.id for m in rows}
    assert set(deliveries) == ids
    assert all(d.count == 1 and d.text == "Hello from Herald" for d in deliveries.values())
    assert engine.sim.state.stats()["duplicates"] == 0


async def test_scheduled_start_fires_on_time(engine: Engine) -> None:
    await clients(engine, 5)
    await engine.start_worker()
    mid = await mailing(engine, start=timedelta(seconds=2))
    assert await mailing_state(mid) == "SCHEDULED"
    await wait_for(lambda: all_final(mid), what="scheduled mailing sent")
    row = await Mailing.get(id=mid)
    assert row.started_at is not None
    assert timedelta(0) <= row.started_at - row.start_at < timedelta(seconds=3)
    assert min(d.at for d in accepted(engine).values()) >= row.start_at.timestamp()


async def test_nothing_accepted_after_end(engine: Engine) -> None:
    await clients(engine, 400)
    engine.configure(latency_ms=300)
    await engine.start_worker(MAX_IN_FLIGHT="10", BATCH_SIZE="10")
    mid = await mailing(engine, end=timedelta(seconds=3))
    end_at = (await Mailing.get(id=mid)).end_at.timestamp()
    await wait_for(lambda: all_final(mid), timeout=20, what="end cut-off")
    assert max(d.at for d in accepted(engine).values()) <= end_at
    counts = await status_counts(mid)
    assert counts["EXPIRED"] > 0 and counts["SENT"] == len(accepted(engine))
    assert set(counts) <= {"SENT", "EXPIRED"}
    await wait_for(lambda: in_state(mid, "FINISHED"), timeout=5, what="FINISHED")


async def test_window_sends_only_where_local_time_is_inside(engine: Engine) -> None:
    await clients(engine, 10, zone="UTC")
    await clients(engine, 10, zone="Asia/Tokyo", start=100)
    now = datetime.now(UTC)
    window = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=1)).strftime("%H:%M"),
    }
    await engine.start_worker()
    mid = await mailing(engine, end=timedelta(minutes=50), window=window)
    await wait_for(lambda: all_final(mid), what="window mailing final")
    rows = await Message.filter(mailing_id=mid)
    by_zone = {(m.timezone, m.status) for m in rows}
    assert by_zone == {("UTC", MessageStatus.SENT), ("Asia/Tokyo", MessageStatus.EXPIRED)}
    tokyo = {m.id for m in rows if m.timezone == "Asia/Tokyo"}
    assert len(tokyo) == 10 and not tokyo & set(accepted(engine))  # the probe saw none of them
    assert len(accepted(engine)) == 10


async def test_window_waits_for_next_opening(engine: Engine) -> None:
    await clients(engine, 3, zone="Asia/Tokyo")
    now = datetime.now(UTC)
    window = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=1)).strftime("%H:%M"),
    }
    await engine.start_worker()
    mid = await mailing(engine, end=timedelta(days=2), window=window)
    await wait_for(lambda: in_state(mid, "RUNNING"), what="RUNNING")
    await wait_for(lambda: _pending_with_future_attempt(mid), what="next opening scheduled")
    assert accepted(engine) == {}
    nxt = (await Message.filter(mailing_id=mid).first()).next_attempt_at  # type: ignore[union-attr]
    assert nxt is not None and timedelta(hours=13) < nxt - now < timedelta(hours=16)


async def _pending_with_future_attempt(mailing_id: int) -> bool:
    rows = await Message.filter(mailing_id=mailing_id)
    return all(
        m.status == MessageStatus.PENDING
        and m.next_attempt_at is not None
        and m.next_attempt_at > datetime.now(UTC) + timedelta(hours=1)
        for m in rows
    )


async def test_transient_faults_are_retried_until_sent(engine: Engine) -> None:
    await clients(engine, 150)
    engine.configure(
        error_rate=0.3, garbage_rate=0.1, timeout_rate=0.05, hang_seconds=3, throttle_rate=0.05
    )
    await engine.start_worker(PROBE_TIMEOUT="0.5", MAX_ATTEMPTS="30")
    mid = await mailing(engine)
    await wait_for(lambda: all_final(mid), timeout=60, what="retries to finish")
    assert await status_counts(mid) == {"SENT": 150}
    assert await counters_match_messages()
    retried = await Message.filter(mailing_id=mid, attempts__gt=1).count()
    assert retried > 0
    assert len(accepted(engine)) == 150


async def test_permanent_rejection_fails_at_once(engine: Engine) -> None:
    await clients(engine, 20)
    engine.configure(reject_rate=1.0)
    await engine.start_worker()
    mid = await mailing(engine)
    await wait_for(lambda: all_final(mid), what="rejections")
    rows = await Message.filter(mailing_id=mid)
    assert {(m.status, m.attempts) for m in rows} == {(MessageStatus.FAILED, 1)}
    assert all(m.last_error for m in rows)


async def test_attempts_exhausted_fail(engine: Engine) -> None:
    await clients(engine, 10)
    engine.configure(error_rate=1.0)
    await engine.start_worker(MAX_ATTEMPTS="3")
    mid = await mailing(engine)
    await wait_for(lambda: all_final(mid), what="attempts exhausted")
    rows = await Message.filter(mailing_id=mid)
    assert {(m.status, m.attempts) for m in rows} == {(MessageStatus.FAILED, 3)}
    assert engine.sim.state.by_outcome["5xx"] == 30


async def test_wrong_token_opens_circuit_then_recovers(engine: Engine) -> None:
    await clients(engine, 40)
    good = engine.sim.state.config.token
    engine.configure(token="rotated-" + str(good))
    await engine.start_worker()
    mid = await mailing(engine)
    await wait_for(lambda: _sim_count(engine, "401", 42), what="first batch, then trials")
    rows = await Message.filter(mailing_id=mid)
    waiting = [m for m in rows if m.status == MessageStatus.PENDING]
    assert {m.status for m in rows} <= {MessageStatus.PENDING, MessageStatus.SENDING}
    assert len(waiting) >= 39 and {m.attempts for m in waiting} == {0}  # no attempt burnt
    before = engine.sim.state.by_outcome["401"]
    await asyncio.sleep(1.0)
    assert engine.sim.state.by_outcome["401"] - before <= 5  # one trial per 0.3 s, no more
    engine.configure(token=good)
    await wait_for(lambda: all_final(mid), what="recovery")
    assert await status_counts(mid) == {"SENT": 40}


async def test_an_open_circuit_gives_a_full_queue_back_and_still_sends_its_trial(
    engine: Engine,
) -> None:
    """The window grew to 512 and 300 claimed messages wait in the queue; then timeouts
    shrink the window to its start and a 401 opens the circuit. Nothing is in flight. The step
    must give the queue back before it counts the room: counted first, the queue leaves no
    room, the step waits for a send that will never end, and the trial that would close the
    circuit never goes (sending stopped for good)."""
    await clients(engine, 300)
    mid = await mailing(engine)
    assert await start_mailing(mid, utc_now())
    settings = Settings.from_env({**engine.env, "BATCH_SIZE": "500", "MAX_IN_FLIGHT": "512"})
    ticks = [100.0]
    probe = ProbeClient(engine.sim.url, settings.probe_token.get(), clock=utc_now)
    dispatcher = Dispatcher(
        probe=probe,
        settings=settings,
        circuit=Circuit(engine.redis, engine.queue, trial_every=5.0, monotonic=lambda: ticks[0]),
        limiter=RateLimiter(engine.redis, 0, engine.queue, clock=utc_now),
        owner="test-worker",
        clock=utc_now,
    )
    try:
        while dispatcher.window.size < 512:
            dispatcher.window.answered()
        now = utc_now()
        lease = dispatcher._next_lease(now)
        dispatcher.ready.extend(await claim([Scope(mid, None)], now, "test-worker", lease, 500))
        assert len(dispatcher.ready) == 300
        while dispatcher.window.size > INITIAL_WINDOW:
            dispatcher.window.lost()
        await dispatcher.circuit.trip()  # the 401: its trial is due in 5 s
        ticks[0] += 5.0

        await dispatcher._step()
        assert len(dispatcher.in_flight) == 1, "the trial send did not start"
        await asyncio.wait(dispatcher.in_flight)
        await dispatcher.flush()
    finally:
        await probe.close()
    assert not dispatcher.circuit.known_open  # the trial was accepted: the circuit closed
    assert len(accepted(engine)) == 1
    rows = await Message.filter(mailing_id=mid)
    assert sorted((m.status, m.attempts) for m in rows) == [(MessageStatus.PENDING, 0)] * 299 + [
        (MessageStatus.SENT, 1)
    ]  # the queue went back with its attempts unused


async def _sim_count(engine: Engine, outcome: str, n: int) -> bool:
    return int(engine.sim.state.by_outcome.get(outcome, 0)) >= n


async def test_two_workers_never_send_one_message_twice(engine: Engine) -> None:
    await clients(engine, 600)
    engine.configure(latency_ms=5)
    await engine.start_worker(BATCH_SIZE="20", MAX_IN_FLIGHT="40")
    await engine.start_worker(BATCH_SIZE="20", MAX_IN_FLIGHT="40")
    mid = await mailing(engine)
    await wait_for(lambda: all_final(mid), what="two workers")
    assert await status_counts(mid) == {"SENT": 600}
    assert engine.sim.state.stats()["duplicates"] == 0
    assert len(accepted(engine)) == 600


async def test_redis_data_lost_then_sweep_recovers(engine: Engine) -> None:
    await clients(engine, 50)
    await engine.start_worker()
    mid = await mailing(engine, start=timedelta(seconds=1))
    await forget(engine.redis, engine.queue)  # Redis lost its data: the start job is gone
    await wait_for(lambda: all_final(mid), what="sweep start after Redis lost its keys")
    second = await mailing(engine)
    await wait_for(lambda: sim_at_least(engine, 60), what="some sends")
    await forget(engine.redis, engine.queue)
    await wait_for(lambda: all_final(second), what="finish after Redis lost its keys mid-mailing")
    assert await status_counts(mid) == {"SENT": 50} and await status_counts(second) == {"SENT": 50}
