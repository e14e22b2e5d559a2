"""Herald processes under test: `herald worker` / `herald serve` as real subprocesses, signalled
like an operator or a deploy would (SIGTERM, SIGINT, SIGKILL)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.engine import Engine


def herald_env(engine: Engine, **overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        **engine.env,
        "QUEUE_NAME": engine.queue,
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


def spawn(engine: Engine, log: Path, *args: str, **overrides: str) -> subprocess.Popen[bytes]:
    """Start `herald ARGS` with the engine's settings; its output goes to `log` (read it when
    a test fails: a traceback there is the first clue)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "herald.cli", *args],
            env=herald_env(engine, **overrides),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def stop(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30
) -> int:
    """Signal and wait without blocking the event loop (the probe simulator runs on it and
    must go on answering the sends being drained); a process that does not exit in time is
    killed and the test fails."""
    if process.poll() is None:
        process.send_signal(sig)
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise AssertionError(f"process did not exit within {timeout}s of {sig!r}")
        await asyncio.sleep(0.05)
    return process.returncode


@contextmanager
def running(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Whatever happens in the test, the process does not outlive it."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def children(parent: int) -> dict[int, bytes]:
    """The live processes whose parent is `parent`, with their command lines."""
    found: dict[int, bytes] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z":
            found[int(entry.name)] = cmdline.replace(b"\0", b" ")
    return found


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
