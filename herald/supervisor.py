"""`herald serve`'s process tree: child processes (delivery workers, the probe simulator) started,
watched, restarted with backoff when they die, and stopped gracefully.

Hand-written on asyncio rather than supervisord or circus: those are daemons of their own with
config files (supervisord) or a ZeroMQ control plane (circus), and neither can do the three things
this tree needs from inside the API process: stop the workers (a drain) *before* the Redis and
the simulator they are using, tie every child's life to the parent's with the kernel's
PR_SET_PDEATHSIG (so a SIGKILLed `herald serve` leaves no orphan), and tell prometheus-client
which pid died. The whole of it is this module."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import metrics
from tools.redis_server import die_with_parent

log = logging.getLogger("herald.supervisor")
FIRST_DELAY = 0.5  # seconds before the first restart of a child that died
MAX_DELAY = 30.0  # seconds: the backoff doubles up to this
STABLE_AFTER = 60.0  # seconds: a child that ran this long restarts after FIRST_DELAY again


@dataclass(frozen=True)
class ChildSpec:
    """What to run: `name` (in logs), the command, its environment and the file descriptors it
    inherits, and how long it may take to stop after SIGTERM before it is killed."""

    name: str
    kind: str  # the metric label: "worker" or "probe-sim" (a small fixed set, never an id)
    argv: Sequence[str]
    env: dict[str, str]
    stop_timeout: float = 10.0
    pass_fds: tuple[int, ...] = ()
    nice: int = 0  # added to the child's niceness: >0 yields the CPU to the API first


def herald_command(*args: str) -> list[str]:
    """`herald ARGS` with this interpreter, whether or not the console script is on PATH."""
    return [sys.executable, "-m", "herald.cli", *args]


@dataclass
class Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    restarts: int = 0
    delay: float = FIRST_DELAY  # before the next restart
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=16))  # the last ones
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


class Supervisor:
    """`await sup.start(spec)` for each child, `await sup.stop()` at the end: all children get
    SIGTERM at once (their drains run in parallel) and are killed after their stop timeout."""

    def __init__(
        self,
        *,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
        stable_after: float = STABLE_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children: list[Child] = []
        self.stopping = asyncio.Event()
        self.first_delay, self.max_delay, self.stable_after = first_delay, max_delay, stable_after
        self._clock = clock

    async def start(self, spec: ChildSpec) -> Child:
        child = Child(spec, delay=self.first_delay)
        await self._spawn(child)
        child.watcher = asyncio.create_task(self._watch(child))
        self.children.append(child)
        return child

    async def _spawn(self, child: Child) -> None:
        spec = child.spec
        child.process = await asyncio.create_subprocess_exec(
            *spec.argv,
            env=spec.env,
            stdin=asyncio.subprocess.DEVNULL,
            pass_fds=spec.pass_fds,
            start_new_session=True,  # Ctrl-C reaches the parent only; it stops the children
            preexec_fn=_preexec(spec.nice),
        )
        child.started = self._clock()
        log.info("%s started (pid %d)", spec.name, child.process.pid)

    async def _watch(self, child: Child) -> None:
        """Restart the child whenever it exits on its own, with a doubling delay that starts
        over once it has run for STABLE_AFTER seconds."""
        while child.process is not None:
            code = await child.process.wait()
            metrics.process_exited(child.process.pid)
            if self.stopping.is_set():
                return
            ran = self._clock() - child.started
            child.delay = self.first_delay if ran >= self.stable_after else child.delay
            log.warning(
                "%s (pid %d) exited with code %s after %.1f s: restarting it in %.2g s",
                child.spec.name,
                child.process.pid,
                code,
                ran,
                child.delay,
            )
            child.delays.append(child.delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), child.delay)
            if self.stopping.is_set():
                return
            child.delay = min(self.max_delay, child.delay * 2)
            child.restarts += 1
            metrics.PROCESS_RESTARTS.labels(child.spec.kind).inc()
            try:
                await self._spawn(child)
            except OSError as exc:  # e.g. out of processes: try again after the next delay
                log.warning("%s did not start again (%s)", child.spec.name, exc)
                child.started = self._clock()

    async def stop(self) -> None:
        """SIGTERM to every child, then wait: a worker drains (its sends in flight answered
        and written) and exits 0; one still running after its stop timeout is killed (its
        claimed messages return to the queue when their lease ends)."""
        self.stopping.set()
        await asyncio.gather(*(self._stop_child(child) for child in self.children))
        for child in self.children:
            if child.watcher is not None:
                await child.watcher

    async def _stop_child(self, child: Child) -> None:
        proc = child.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), child.spec.stop_timeout)
        except TimeoutError:
            log.warning(
                "%s (pid %d) did not stop within %.0f s of SIGTERM: killed",
                child.spec.name,
                proc.pid,
                child.spec.stop_timeout,
            )
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        else:
            log.info("%s (pid %d) stopped (code %s)", child.spec.name, proc.pid, proc.returncode)


def _preexec(nice: int) -> Callable[[], None] | None:
    tie = die_with_parent()
    if not nice:
        return tie

    def preexec() -> None:
        if tie is not None:
            tie()
        os.nice(nice)

    return preexec


def default_workers(cpus: int | None = None) -> int:
    """Half the machine's cores, at least one: the API process, the probe simulator and Redis
    take the rest (on 2 cores, one worker process; measured in `make bench`)."""
    return max(1, (cpus if cpus is not None else os.cpu_count() or 1) // 2)
