"""`herald serve`'s process tree, as an operator runs it: the API supervises `--workers N`
`herald worker` processes (and, with `--probe-sim`, the simulator and a private Redis), restarts
a worker that dies, drains them all on SIGTERM and exits 0, and leaves no process behind even
when it is SIGKILLed itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from herald.tree import WORKER_NICE
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
from tests.support.procs import alive, children, running, spawn, stop

WORKER = b"herald.cli worker"


def workers_of(serve: subprocess.Popen[bytes]) -> set[int]:
    return {pid for pid, cmd in children(serve.pid).items() if WORKER in cmd}


async def test_workers_are_supervised_restarted_and_drained(engine: Engine, tmp_path: Path) -> None:
    n = 3000
    await clients(engine, n)
    engine.configure(latency_ms=20)
    log = tmp_path / "serve.log"
    serve = spawn(
        engine, log, "serve", "--port", "0", "--no-migrate", "--workers", "2", LOG_LEVEL="INFO"
    )
    with running(serve):
        await wait_for(lambda: _count(workers_of(serve), 2), timeout=30, what="2 workers")
        first = workers_of(serve)
        mid = await mailing(engine)
        await wait_for(lambda: sim_at_least(engine, 300), timeout=60, what="sending under way")
        killed = min(first)
        os.kill(killed, signal.SIGKILL)
        await wait_for(
            lambda: _replaced(serve, killed), timeout=30, what="the killed worker replaced"
        )
        await wait_for(lambda: all_final(mid), timeout=90, what="the mailing finishes")
        tree = set(children(serve.pid))
        assert await stop(serve, signal.SIGTERM) == 0, log.read_text()
    text = log.read_text()
    assert f"(pid {killed}) exited with code -9" in text, text
    assert "Traceback" not in text, text
    assert not [pid for pid in tree if alive(pid)]  # every child ended with the parent
    assert await status_counts(mid) == {"SENT": n}
    assert len(accepted(engine)) == n  # at least once after a SIGKILL mid-send (same msgId)
    assert not await Message.filter(status=MessageStatus.SENDING).exists()
    assert await counters_match_messages()


async def _count(pids: set[int], n: int) -> bool:
    return len(pids) == n


async def _replaced(serve: subprocess.Popen[bytes], killed: int) -> bool:
    now = workers_of(serve)
    return len(now) == 2 and killed not in now


def default_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What `make run` has: no DATABASE_URL, REDIS_URL or PROBE_URL, a fresh DATA_DIR."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.pop("PROBE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return {**env, "DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "INFO", **extra}


async def test_default_mode_delivers_and_a_sigkilled_serve_leaves_no_orphan(
    tmp_path: Path,
) -> None:
    """`herald serve --probe-sim` as `make run` starts it: the simulator, a private Redis and
    two workers in processes of their own deliver a mailing; then the parent is SIGKILLed and
    the kernel ends every child (PR_SET_PDEATHSIG)."""
    log = tmp_path / "serve.log"
    env = default_env(tmp_path, API_ADMIN_TOKEN="tree-admin", WORKERS="2")
    with log.open("ab") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "herald.cli", "serve", "--port", "0", "--probe-sim"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    with running(serve):
        # Counted by command line once exec'd (a child just forked still shows the parent's).
        await wait_for(lambda: _tree_is(serve), timeout=30, what="the simulator, Redis, 2 workers")
        for pid in workers_of(serve):  # the API goes first when the CPU is short
            assert niceness(pid) == niceness(serve.pid) + WORKER_NICE
        url = await _served(log)
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": "Bearer tree-admin"}, timeout=10
        ) as http:
            rows = [{"phone": f"7900000{i:04d}", "timezone": "Europe/Moscow"} for i in range(50)]
            await _gql(http, IMPORT, c=rows)
            created = await _gql(http, CREATE)
            mid = created["createMailing"]["id"]
            await wait_for(lambda: _all_sent(http, mid, 50), timeout=60, what="50 SENT")
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
        tree = set(children(serve.pid))
        serve.kill()
        serve.wait()
        await wait_for(lambda: _none_alive(tree), timeout=30, what="every child to end")


async def test_workers_zero_is_the_api_alone(engine: Engine, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    serve = spawn(
        engine, log, "serve", "--port", "0", "--no-migrate", "--workers", "0", LOG_LEVEL="INFO"
    )
    with running(serve):
        url = await _served(log)
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            ready = await http.get("/readyz")
        assert workers_of(serve) == set()
        assert await stop(serve, signal.SIGINT) == 0, log.read_text()
    assert ready.status_code == 503
    assert ready.json()["checks"]["worker"] == "no worker heartbeat"


IMPORT = "mutation($c: [ClientInput!]!) { importClients(clients: $c) { created } }"
CREATE = (
    'mutation { createMailing(input: {text: "tree", startAt: "2026-01-01T00:00:00Z", '
    'endAt: "2099-01-01T00:00:00Z", filter: {}}) { id } }'
)


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


async def _tree_is(serve: subprocess.Popen[bytes]) -> bool:
    commands = list(children(serve.pid).values())
    kinds = [
        kind for c in commands for kind in (WORKER, b"probe-sim", b"redis-server") if kind in c
    ]
    return len(commands) == 4 and sorted(kinds) == sorted(
        [WORKER, WORKER, b"probe-sim", b"redis-server"]
    )


async def _gql(http: httpx.AsyncClient, query: str, **variables: object) -> dict[str, Any]:
    body = (await http.post("/graphql", json={"query": query, "variables": variables})).json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


async def _all_sent(http: httpx.AsyncClient, mailing_id: object, n: int) -> bool:
    query = "query($id: ID!) { mailing(id: $id) { stats { byStatus { status count } } } }"
    data = await _gql(http, query, id=mailing_id)
    counts = {r["status"]: r["count"] for r in data["mailing"]["stats"]["byStatus"]}
    return bool(counts.get("SENT") == n)


async def _none_alive(pids: set[int]) -> bool:
    return not any(alive(pid) for pid in pids)


async def _served(log: Path) -> str:
    found: list[str] = []

    async def listening() -> bool:
        for line in log.read_text().splitlines():
            if "Herald on http://" in line:
                found.append(line.split("Herald on ", 1)[1].split("/graphql", 1)[0])
        return bool(found)

    await wait_for(listening, timeout=30, what=f"serve to listen (log: {log})")
    url = found[0]
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:

        async def up() -> bool:
            try:
                return (await http.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_for(up, timeout=30, what="serve to answer")
    return url
