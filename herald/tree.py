"""What `herald serve` runs beside the API, each in its own process under herald/supervisor.py:
the probe simulator (`--probe-sim`) and N delivery workers (`--workers N`)."""

from __future__ import annotations

import contextlib
import os
import socket

from herald.settings import Settings
from herald.supervisor import ChildSpec, Supervisor, herald_command

SIM_STOP_TIMEOUT = 5.0
DRAIN_MARGIN = 20.0  # seconds past PROBE_TIMEOUT a worker may take to write its outcomes
# Workers run at a lower CPU priority than the API: on a busy machine an operator's query or
# mutation goes first, and delivery takes what is left (it is throughput, not latency).
WORKER_NICE = 5


async def probe_sim(stack: contextlib.AsyncExitStack, settings: Settings) -> str:
    """Start the simulator on a socket bound here and handed down, so that a restarted
    simulator serves on the same address and no client ever sees a port change; returns its
    URL. Stopped when `stack` closes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stack.callback(sock.close)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)  # connections wait in the backlog while the simulator (re)starts
    latency = settings.probe_sim_latency_ms
    command = herald_command(
        "probe-sim",
        *("--fd", str(sock.fileno())),
        *("--latency-ms", f"{latency:g}", "--jitter-ms", f"{latency / 2:g}"),
    )
    group = Supervisor()
    stack.push_async_callback(group.stop)
    spec = ChildSpec(
        "probe-sim",
        "probe-sim",
        command,
        dict(os.environ),
        stop_timeout=SIM_STOP_TIMEOUT,
        pass_fds=(sock.fileno(),),
    )
    await group.start(spec)
    port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def workers(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    count: int,
    overrides: dict[str, str],
) -> Supervisor:
    """Start `count` `herald worker` processes with the parent's environment plus `overrides`
    (the private Redis's URL, the simulator's URL); stopped (drained) when `stack` closes."""
    group = Supervisor()
    stack.push_async_callback(group.stop)
    env = {**os.environ, **overrides}
    for number in range(1, count + 1):
        spec = ChildSpec(
            f"worker {number}",
            "worker",
            herald_command("worker", "--no-migrate"),
            env,
            stop_timeout=settings.probe_timeout + DRAIN_MARGIN,
            nice=WORKER_NICE,
        )
        await group.start(spec)
    return group
