"""Losing Redis loses hints, never delivery: a `herald worker` whose Redis is killed, or hung
with SIGSTOP, mid-mailing keeps sending from the database, survives, picks Redis up again when
it returns, and sends every message once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

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
from tests.support.procs import children, running, spawn, stop
from tests.support.redis import RedisProcess


@pytest.mark.parametrize("fault", ["killed", "hung"])
async def test_worker_keeps_sending_through_a_redis_outage(
    engine: Engine, own_redis: RedisProcess, tmp_path: Path, fault: str
) -> None:
    n = 4000
    await clients(engine, n)
    engine.configure(latency_ms=20)
    log = tmp_path / "worker.log"
    worker = spawn(
        engine, log, "worker", REDIS_URL=own_redis.url, MAX_IN_FLIGHT="10", BATCH_SIZE="10"
    )
    with running(worker):
        mid = await mailing(engine)
        await wait_for(lambda: sim_at_least(engine, 300), timeout=60, what="sending under way")
        if fault == "killed":
            await own_redis.kill()
        else:
            own_redis.signal(signal.SIGSTOP)
        await wait_for(lambda: _logged(log, "Redis unreachable"), timeout=30, what="detection")
        during = len(accepted(engine))
        await wait_for(
            lambda: sim_at_least(engine, during + 300), timeout=60, what="sends without Redis"
        )
        assert worker.poll() is None, log.read_text()
        assert len(accepted(engine)) < n, "the outage must happen mid-mailing"
        if fault == "killed":
            await own_redis.start()
        else:
            own_redis.signal(signal.SIGCONT)
        await wait_for(lambda: all_final(mid), timeout=90, what="delivery to finish")
        await wait_for(lambda: _logged(log, "Redis answers again"), timeout=20, what="reconnect")
        assert worker.poll() is None, log.read_text()  # the same process, never restarted
        assert await stop(worker) == 0, log.read_text()
    assert await status_counts(mid) == {"SENT": n}
    assert engine.sim.state.stats()["duplicates"] == 0 and len(accepted(engine)) == n
    assert await counters_match_messages()
    text = log.read_text()
    assert text.count("Redis unreachable") == 1, text  # logged once, not per call
    assert "Traceback" not in text, text


async def _logged(log: Path, line: str) -> bool:
    return line in log.read_text()


async def test_serve_restarts_its_embedded_redis_and_delivery_goes_on(
    engine: Engine, tmp_path: Path
) -> None:
    """`herald serve` with no REDIS_URL runs a private redis-server: killed, it is started
    again on the same socket; its worker process keeps sending meanwhile and reconnects."""
    n = 3000
    await clients(engine, n)
    engine.configure(latency_ms=20)
    log = tmp_path / "serve.log"
    data = tmp_path / "serve-data"
    serve = spawn(
        engine,
        log,
        "serve",
        "--port",
        "0",
        "--no-migrate",
        REDIS_URL="",
        DATA_DIR=str(data),
        MAX_IN_FLIGHT="10",
        BATCH_SIZE="10",
        LOG_LEVEL="WARNING",
    )
    with running(serve):
        mid = await mailing(engine)
        await wait_for(lambda: sim_at_least(engine, 300), timeout=60, what="sending under way")
        redis_pid = _child_redis(serve.pid)
        os.kill(redis_pid, signal.SIGKILL)
        await wait_for(lambda: _logged(log, "embedded Redis restarted"), timeout=30, what="restart")
        assert _child_redis(serve.pid) != redis_pid
        await wait_for(lambda: all_final(mid), timeout=90, what="delivery to finish")
        await wait_for(lambda: _logged(log, "Redis answers again"), timeout=20, what="reconnect")
        assert serve.poll() is None, log.read_text()
        assert await stop(serve) in (0, -signal.SIGTERM), log.read_text()
    assert await status_counts(mid) == {"SENT": n}
    assert engine.sim.state.stats()["duplicates"] == 0
    text = log.read_text()
    assert "Traceback" not in text, text
    assert text.count("embedded Redis exited") == 1, text
    assert text.count("Redis unreachable") <= 1, text  # once per outage, not per call
    assert text.count("live stats subscription lost") <= 1, text


def _child_redis(parent: int) -> int:
    """The redis-server started by process `parent`."""
    for pid, cmdline in children(parent).items():
        if b"redis-server" in cmdline:
            return pid
    raise AssertionError(f"no redis-server child of {parent}")
