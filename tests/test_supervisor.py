"""herald/supervisor.py with real child processes: a child that dies is restarted with a
doubling delay, a stop is SIGTERM then (past the timeout) SIGKILL, and no child outlives the
supervisor's process however it ends."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from herald.supervisor import ChildSpec, Supervisor, default_workers
from tests.support.engine import wait_for
from tests.support.procs import alive

PY = sys.executable


def spec(code: str, name: str = "child", stop_timeout: float = 5.0) -> ChildSpec:
    return ChildSpec(name, "worker", [PY, "-c", code], dict(os.environ), stop_timeout)


async def test_a_child_that_dies_is_restarted_with_a_doubling_delay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "herald.supervisor")
    supervisor = Supervisor(first_delay=0.01, max_delay=0.04, stable_after=60)
    child = await supervisor.start(spec("raise SystemExit(3)"))
    try:
        await wait_for(lambda: _at_least(child.restarts, 4), timeout=30, what="4 restarts")
    finally:
        await supervisor.stop()
    assert list(child.delays)[:4] == [0.01, 0.02, 0.04, 0.04]
    exits = [r.getMessage() for r in caplog.records if "exited with code 3" in r.getMessage()]
    assert len(exits) >= 4, exits  # one line per death, naming the child and its code
    assert exits[0].startswith("child (pid "), exits[0]


async def test_a_child_that_ran_long_enough_restarts_after_the_first_delay_again() -> None:
    ticks = iter(range(0, 10_000, 100))  # every reading 100 s later: each run was "stable"
    supervisor = Supervisor(first_delay=0.01, stable_after=60, clock=lambda: float(next(ticks)))
    child = await supervisor.start(spec("raise SystemExit(3)"))
    try:
        await wait_for(lambda: _at_least(child.restarts, 3), timeout=30, what="3 restarts")
    finally:
        await supervisor.stop()
    assert list(child.delays)[:3] == [0.01, 0.01, 0.01]


async def _at_least(value: int, n: int) -> bool:
    return value >= n


async def test_stop_is_sigterm_then_sigkill_after_the_timeout() -> None:
    supervisor = Supervisor()
    polite = await supervisor.start(spec("import time; time.sleep(60)", "polite"))
    stubborn_code = textwrap.dedent(
        """
        import signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    stubborn = await supervisor.start(spec(stubborn_code, "stubborn", stop_timeout=1.0))
    await asyncio.sleep(0.5)  # let the stubborn child install its SIG_IGN before the stop
    await supervisor.stop()
    assert polite.process is not None and polite.process.returncode == -signal.SIGTERM
    assert stubborn.process is not None and stubborn.process.returncode == -signal.SIGKILL
    assert polite.restarts == stubborn.restarts == 0  # a stop is not a death to repair


def test_no_child_outlives_a_sigkilled_parent(tmp_path: Path) -> None:
    """The parent (a real process running a Supervisor) is SIGKILLed: the kernel's
    PR_SET_PDEATHSIG ends its child, which never saw a stop."""
    pid_file = tmp_path / "child.pid"
    parent_code = textwrap.dedent(
        f"""
        import asyncio, os, sys
        from herald.supervisor import ChildSpec, Supervisor

        async def main():
            sup = Supervisor()
            child = await sup.start(ChildSpec(
                "sleeper", "worker", [sys.executable, "-c", "import time; time.sleep(120)"],
                dict(os.environ)))
            open({str(pid_file)!r}, "w").write(str(child.pid))
            await asyncio.sleep(120)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen([PY, "-c", parent_code], cwd=Path(__file__).parent.parent)
    try:
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text():
                break
            if parent.poll() is not None:
                raise AssertionError(f"parent exited with {parent.returncode}")
            asyncio.run(asyncio.sleep(0.05))
        child = int(pid_file.read_text())
        assert alive(child)
        parent.kill()
        parent.wait()
        asyncio.run(wait_for(lambda: _gone(child), timeout=10, what="the orphan to end"))
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


async def _gone(pid: int) -> bool:
    return not alive(pid)


@pytest.mark.parametrize(("cpus", "workers"), [(1, 1), (2, 1), (3, 1), (4, 2), (16, 8)])
def test_default_workers_is_half_the_cores_and_at_least_one(cpus: int, workers: int) -> None:
    assert default_workers(cpus) == workers
