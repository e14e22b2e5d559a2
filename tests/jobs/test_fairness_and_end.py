"""Two rules of the send loop under load: a short mailing created during a long one is sent
before its end (claims are shared by urgency, not first in first out), and the statistics
never contradict the probe at the end time (no attempt that cannot be answered before the
end starts, and an attempt in flight at the end is recorded, never abandoned)."""

from __future__ import annotations

from datetime import timedelta

from models.mailing import Mailing
from models.message import Message, MessageStatus
from tests.support.delivery import (
    accepted,
    all_final,
    clients,
    in_state,
    mailing,
    sim_at_least,
    status_counts,
)
from tests.support.engine import Engine, wait_for


async def test_short_mailing_created_during_a_long_one_finishes_before_its_end(
    engine: Engine,
) -> None:
    await clients(engine, 10_000, tag="long")
    await clients(engine, 500, tag="short", start=20_000)
    # At most 50 in flight at 100 ms: ~500/s, so the long mailing alone needs ~20 s.
    engine.configure(latency_ms=100)
    await engine.start_worker(MAX_IN_FLIGHT="50", BATCH_SIZE="50")
    long_id = await mailing(engine, filter={"tags": ["long"]})
    await wait_for(lambda: sim_at_least(engine, 200), timeout=30, what="the long one sending")
    short_id = await mailing(engine, end=timedelta(seconds=8), filter={"tags": ["short"]})
    await wait_for(lambda: all_final(short_id), timeout=30, what="the short one settles")
    assert await status_counts(short_id) == {"SENT": 500}
    await wait_for(lambda: in_state(short_id, "FINISHED"), timeout=10, what="FINISHED")
    long_sent = await Message.filter(mailing_id=long_id, status=MessageStatus.SENT).count()
    assert 0 < long_sent < 10_000  # the long one kept going meanwhile, not starved either
    assert engine.sim.state.stats()["duplicates"] == 0


async def test_every_message_the_probe_accepted_is_sent_even_at_the_end(engine: Engine) -> None:
    await clients(engine, 3000)
    # Round trips of 10-390 ms, and a probe that delivers even when the client gave up
    # waiting: a request cut at the end time would be delivered yet never recorded.
    engine.configure(latency_ms=200, jitter_ms=190, finish_cut=True)
    await engine.start_worker()  # the default 512 in flight
    mid = await mailing(engine, end=timedelta(seconds=1))
    await wait_for(lambda: all_final(mid), timeout=30, what="the end cut-off")
    end_at = (await Mailing.get(id=mid)).end_at.timestamp()
    deliveries = accepted(engine)
    assert deliveries, "the mailing must have sent something before its end"
    sent = {m.id for m in await Message.filter(mailing_id=mid, status=MessageStatus.SENT)}
    assert sent == set(deliveries)  # the statistics say exactly what the probe accepted
    counts = await status_counts(mid)
    assert set(counts) <= {"SENT", "EXPIRED"} and counts.get("EXPIRED", 0) > 0
    # An attempt starts only when its answer is expected before the end; with one-off slow
    # answers a few may land after it, but never later than one request timeout.
    timeout = float(engine.env["PROBE_TIMEOUT"])
    assert max(d.at for d in deliveries.values()) < end_at + timeout
