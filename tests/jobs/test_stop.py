"""A graceful stop (Ctrl-C, a deploy's SIGTERM) of a process that is sending: it claims nothing
new, waits for the sends in flight, writes every outcome and only then exits, so the next
process re-sends nothing."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from models.message import Message, MessageStatus
from tests.support.delivery import (
    accepted,
    all_final,
    clients,
    counters_match_messages,
    mailing,
    sim_at_least,
    status_counts,
)
from tests.support.engine import Engine, wait_for
from tests.support.procs import running, spawn, stop

CASES = [
    ("worker", signal.SIGTERM),
    ("worker", signal.SIGINT),
    ("serve", signal.SIGTERM),
    ("serve", signal.SIGINT),
]


@pytest.mark.parametrize(("command", "sig"), CASES, ids=lambda c: getattr(c, "name", c))
async def test_graceful_stop_mid_mailing_then_restart_sends_nothing_twice(
    engine: Engine, tmp_path: Path, command: str, sig: signal.Signals
) -> None:
    n = 5000
    await clients(engine, n)
    # Slow answers keep hundreds of sends in flight when the signal arrives (512 by default).
    engine.configure(latency_ms=300, jitter_ms=100)
    args = ["worker"] if command == "worker" else ["serve", "--port", "0", "--no-migrate"]
    log = tmp_path / "herald.log"
    first = spawn(engine, log, *args, PROBE_TIMEOUT="10", LEASE_SECONDS="12", LOG_LEVEL="INFO")
    with running(first):
        mid = await mailing(engine)
        await wait_for(lambda: _busy(engine), timeout=60, what="hundreds of sends in flight")
        in_flight = engine.sim.state.in_flight
        assert await stop(first, sig) == 0, log.read_text()
    assert in_flight > 50, "the signal must arrive while sends are in flight"
    sent_before = len(accepted(engine))
    assert sent_before < n
    # Every answer the probe gave was written before the process exited: no lease left behind.
    assert not await Message.filter(mailing_id=mid, status=MessageStatus.SENDING).exists()
    assert await Message.filter(mailing_id=mid, status=MessageStatus.SENT).count() == sent_before

    # Slow answers under load must not look like lost ones: a long timeout here too.
    second = spawn(engine, log, "worker", PROBE_TIMEOUT="10", LEASE_SECONDS="12")
    with running(second):
        await wait_for(lambda: all_final(mid), timeout=90, what="the restarted worker finishes")
        await stop(second)
    assert await status_counts(mid) == {"SENT": n}
    assert engine.sim.state.stats()["duplicates"] == 0
    assert len(accepted(engine)) == n
    assert await counters_match_messages()


async def _busy(engine: Engine) -> bool:
    return await sim_at_least(engine, 300) and engine.sim.state.in_flight >= 100
