"""Operators acting on a mailing while it is being sent: pause, resume, cancel, delete, edit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from models.mailing import Mailing
from models.message import Message, MessageStatus
from tests.support.delivery import (
    accepted,
    all_final,
    clients,
    counters_match_messages,
    in_state,
    mailing,
    sim_at_least,
    status_counts,
)
from tests.support.engine import Engine, wait_for

PAUSE = "mutation($id: ID!) { pauseMailing(id: $id) { state } }"
RESUME = "mutation($id: ID!) { resumeMailing(id: $id) { state } }"
CANCEL = "mutation($id: ID!) { cancelMailing(id: $id) { state } }"


async def slow_mailing(engine: Engine, n: int = 300, **worker: str) -> int:
    await clients(engine, n)
    engine.configure(latency_ms=100)
    await engine.start_worker(MAX_IN_FLIGHT="10", BATCH_SIZE="10", **worker)
    mid = await mailing(engine)
    await wait_for(lambda: sim_at_least(engine, 20), what="sending under way")
    return mid


async def test_pause_stops_new_sends_within_a_second_and_resume_finishes(engine: Engine) -> None:
    mid = await slow_mailing(engine)
    assert (await engine.gql.ok(PAUSE, id=str(mid)))["pauseMailing"]["state"] == "PAUSED"
    await asyncio.sleep(1.0)
    frozen = len(accepted(engine))
    await asyncio.sleep(1.0)
    assert len(accepted(engine)) == frozen < 300
    assert (await engine.gql.ok(RESUME, id=str(mid)))["resumeMailing"]["state"] == "RUNNING"
    await wait_for(lambda: all_final(mid), what="resumed mailing finished")
    assert await status_counts(mid) == {"SENT": 300}
    await wait_for(lambda: in_state(mid, "FINISHED"), timeout=5, what="FINISHED")


async def test_cancel_leaves_the_rest_cancelled(engine: Engine) -> None:
    mid = await slow_mailing(engine)
    assert (await engine.gql.ok(CANCEL, id=str(mid)))["cancelMailing"]["state"] == "CANCELLED"
    await wait_for(lambda: all_final(mid), what="cancel settles")
    counts = await status_counts(mid)
    assert set(counts) == {"SENT", "CANCELLED"} and counts["CANCELLED"] > 100
    await asyncio.sleep(0.5)
    assert counts["SENT"] == len(accepted(engine))


async def test_delete_client_mid_mailing_cancels_its_message(engine: Engine) -> None:
    mid = await slow_mailing(engine)
    await engine.gql.ok(PAUSE, id=str(mid))
    await asyncio.sleep(0.5)
    victim = await Message.filter(mailing_id=mid, status=MessageStatus.PENDING).first()
    assert victim is not None and victim.client_id is not None  # type: ignore[attr-defined]
    await engine.gql.ok("mutation($id: ID!) { deleteClient(id: $id) }", id=str(victim.client_id))  # type: ignore[attr-defined]
    await engine.gql.ok(RESUME, id=str(mid))
    await wait_for(lambda: all_final(mid), what="mailing after client deletion")
    gone = await Message.get(id=victim.id)
    assert gone.status == MessageStatus.CANCELLED and gone.client_id is None  # type: ignore[attr-defined]
    assert victim.id not in accepted(engine)
    assert await status_counts(mid) == {"SENT": 299, "CANCELLED": 1}
    assert await counters_match_messages()


async def test_delete_running_mailing_stops_it(engine: Engine) -> None:
    mid = await slow_mailing(engine)
    await engine.gql.ok("mutation($id: ID!) { deleteMailing(id: $id) }", id=str(mid))
    await asyncio.sleep(0.5)  # sends already in flight may still land
    settled = len(accepted(engine))
    await asyncio.sleep(1.0)
    assert len(accepted(engine)) == settled < 300
    assert not await Mailing.filter(id=mid).exists()
    assert await Message.filter(mailing_id=mid).count() == 0


async def test_shortened_end_applies_to_the_next_batch(engine: Engine) -> None:
    mid = await slow_mailing(engine)
    end = datetime.now(UTC) + timedelta(seconds=1)
    await engine.gql.ok(
        "mutation($id: ID!, $end: DateTime!) { updateMailing(id: $id, "
        "input: {endAt: $end}) { endAt } }",
        id=str(mid),
        end=end.isoformat(),
    )
    await wait_for(lambda: all_final(mid), what="expiry after the new end")
    assert max(d.at for d in accepted(engine).values()) <= end.timestamp()
    counts = await status_counts(mid)
    assert set(counts) == {"SENT", "EXPIRED"} and counts["EXPIRED"] > 100


async def test_worker_killed_mid_mailing_loses_nothing(engine: Engine) -> None:
    await clients(engine, 600)
    engine.configure(latency_ms=50)
    env = {
        **os.environ,
        **engine.env,
        "MAX_IN_FLIGHT": "20",
        "BATCH_SIZE": "20",
        "LEASE_SECONDS": "2",
        "PROBE_TIMEOUT": "0.5",
        "LOG_LEVEL": "WARNING",
    }
    queue_env = {"QUEUE_NAME": engine.queue}
    cmd = [sys.executable, "-m", "herald.cli", "worker"]
    first = subprocess.Popen(
        cmd, env={**env, **queue_env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        mid = await mailing(engine)
        await wait_for(lambda: sim_at_least(engine, 100), timeout=60, what="first worker sends")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert len(accepted(engine)) < 600
        assert await Message.filter(mailing_id=mid, status=MessageStatus.SENDING).exists()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    second = subprocess.Popen(
        cmd, env={**env, **queue_env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await wait_for(lambda: all_final(mid), timeout=90, what="second worker completes")
    finally:
        second.terminate()
        second.wait(timeout=20)
    assert await status_counts(mid) == {"SENT": 600}
    assert await counters_match_messages()  # a worker killed mid-transaction skews nothing
    assert len(accepted(engine)) == 600  # repeats of in-flight msgIds are possible, losses not
