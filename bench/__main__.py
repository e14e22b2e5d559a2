"""`make bench`: Herald's performance figures, printed as a table (never asserted in tests).

Everything runs on 127.0.0.1: the probe simulator, Redis (the machine's if REDIS_URL is set,
else an embedded one), `herald serve --no-worker` (the API) and one `herald worker`, each in
its own process, with a fresh SQLite database (or BENCH_DATABASE_URL for PostgreSQL)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench.fanout import fanout_rows
from bench.live import RemoteWatchers, cpu_seconds, percentile, schedstat
from bench.profile import recording, summarise
from herald import db
from models.sql import db as conn
from tools.redis_server import EmbeddedRedis

PY = sys.executable


def sim_command(port: int, latency_ms: int) -> list[str]:
    return [
        PY,
        "-m",
        "herald.cli",
        "probe-sim",
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def wait_http(url: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def ceiling(sim_url: str, n: int, concurrency: int) -> tuple[float, float]:
    """aiohttp straight at the simulator: the most any client could get from it here, in
    requests per second, and this process's CPU seconds (user + system) per request."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def run() -> None:
            for i in queue:
                body = {"id": 10_000_000 + i, "phone": 79000000000 + i, "text": "ceiling"}
                async with session.post(
                    f"{sim_url}/send/{10_000_000 + i}",
                    json=body,
                    headers={"Authorization": "Bearer bench"},
                ) as r:
                    await r.read()

        # Untimed first: the connections open and the code paths warm up, so what is timed
        # is the steady rate whether or not this process has sent anything before.
        queue = iter(range(-2 * concurrency, 0))
        await asyncio.gather(*(run() for _ in range(concurrency)))
        queue = iter(range(1, n + 1))
        started, cpu = time.perf_counter(), cpu_seconds(os.getpid())
        await asyncio.gather(*(run() for _ in range(concurrency)))
        return n / (time.perf_counter() - started), (cpu_seconds(os.getpid()) - cpu) / n


async def measured_ceiling(
    latency: int, n: int, concurrency: int, env: dict[str, str], workdir: Path
) -> tuple[float, float]:
    """`ceiling` against a simulator of its own with the delivery's latency."""
    sim_port = free_port()
    with process(sim_command(sim_port, latency), env, workdir / "ceil.log"):
        await wait_http(f"http://127.0.0.1:{sim_port}/_sim/stats")
        return await ceiling(f"http://127.0.0.1:{sim_port}/v1", n, concurrency)


async def gql(
    session: aiohttp.ClientSession, url: str, token: str, query: str, **variables: Any
) -> dict[str, Any]:
    async with session.post(
        url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        body: dict[str, Any] = await response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]  # type: ignore[no-any-return]


@dataclass
class Tree:
    """The processes under test: where the API and the simulator answer, and which pids are
    the API and the worker(s) (for CPU and RSS)."""

    api: str
    sim: str  # the simulator's base URL (no /v1)
    api_pid: int
    worker_pids: list[int]

    def worker_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.worker_pids)

    def worker_loop_cpu(self) -> float:
        """The workers' main threads only (the event loop); the rest is their other threads."""
        return sum(cpu_seconds(pid, pid) for pid in self.worker_pids)

    def worker_loop_sched(self) -> tuple[float, float, float] | None:
        """(now, seconds the workers' event-loop threads ran, seconds they waited for a core)."""
        ran = waited = 0.0
        for pid in self.worker_pids:
            stat = schedstat(pid, pid)
            if stat is None:
                return None
            ran, waited = ran + stat[0], waited + stat[1]
        return time.perf_counter(), ran, waited


@contextlib.asynccontextmanager
async def split_tree(
    latency_ms: int, env: dict[str, str], workdir: Path, workers: int = 1
) -> AsyncIterator[Tree]:
    """The simulator, `herald serve --workers 0` and `workers` `herald worker`s, each started
    here."""
    sim_port, api_port = free_port(), free_port()
    env = {**env, "PROBE_URL": f"http://127.0.0.1:{sim_port}/v1", "PORT": str(api_port)}
    # Migrated once, before the processes start: the API and the workers migrating one fresh
    # SQLite file at the same moment raced (UNIQUE constraint failed: tortoise_migrations).
    await db.migrate(env["DATABASE_URL"])
    serve = [PY, "-m", "herald.cli", "serve", "--workers", "0", "--no-migrate"]
    with contextlib.ExitStack() as stack:
        stack.enter_context(process(sim_command(sim_port, latency_ms), env, workdir / "sim.log"))
        api = stack.enter_context(process(serve, env, workdir / "api.log"))
        worker = [PY, "-m", "herald.cli", "worker", "--no-migrate"]
        pids = [
            stack.enter_context(process(worker, env, workdir / f"worker-{i}.log")).pid
            for i in range(workers)
        ]
        tree = Tree(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sim_port}", api.pid, pids)
        try:
            await wait_http(f"{tree.api}/health")
        except RuntimeError:
            raise RuntimeError((workdir / "api.log").read_text()[-3000:]) from None
        await wait_http(f"{tree.sim}/_sim/stats")
        yield tree


@contextlib.asynccontextmanager
async def default_tree(
    latency_ms: int, env: dict[str, str], workdir: Path, workers: int = 1
) -> AsyncIterator[Tree]:
    """`herald serve --probe-sim` as `make run` starts it: no DATABASE_URL, REDIS_URL or
    PROBE_URL (SQLite and a private Redis in a fresh DATA_DIR, the simulator and the default
    number of workers as its children)."""
    api_port = free_port()
    data = workdir / f"default-{latency_ms}"
    env = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "REDIS_URL", "PROBE_URL")}
    env = {**env, "DATA_DIR": str(data), "PORT": str(api_port), "LOG_LEVEL": "INFO"}
    env["PROBE_SIM_LATENCY_MS"] = str(latency_ms)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = workdir / "default.log"
    with process([PY, "-m", "herald.cli", "serve", "--probe-sim"], env, log) as api:
        api_url = f"http://127.0.0.1:{api_port}"
        await wait_http(f"{api_url}/health")
        sim = re.search(r"probe simulator on (http://[\d.:]+)/v1", log.read_text())
        pids = [pid for pid, cmd in children(api.pid).items() if b"herald.cli worker" in cmd]
        if sim is None or not pids:
            raise RuntimeError(f"herald serve --probe-sim did not start: {log.read_text()}")
        await wait_http(f"{sim.group(1)}/_sim/stats")
        yield Tree(api_url, sim.group(1), api.pid, pids)


def children(parent: int) -> dict[int, bytes]:
    found = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
    return found


PROBES = {  # the API calls timed during delivery
    "stats": "{ stats { messages } }",
    "mailing { stats }": "query($id: ID!) { mailing(id: $id) { stats { total } } }",
    "clients(first: 50)": "{ clients(first: 50) { edges { node { id phone } } } }",
    # A write that leaves the audience as it is (clients created meanwhile would join a
    # mailing that starts later, as the subscribers' one does).
    "updateClient": ('mutation($p: String!) { updateClient(id: "1", input: {tag: $p}) { id } }'),
}


async def probe_api(
    session: aiohttp.ClientSession, url: str, token: str, mailing_id: str, done: asyncio.Event
) -> dict[str, list[float]]:
    """Each of PROBES in turn, 20 ms apart, until `done`: the latencies, by call."""
    times: dict[str, list[float]] = {name: [] for name in PROBES}
    tags = (f"probe-{i}" for i in range(1_000_000_000))
    while not done.is_set():
        for name, query in PROBES.items():
            variables = {"id": mailing_id} if "$id" in query else {}
            if "$p" in query:
                variables = {"p": next(tags)}
            t0 = time.perf_counter()
            await gql(session, url, token, query, **variables)
            times[name].append(time.perf_counter() - t0)
            await asyncio.sleep(0.02)
    return times


async def delivery(
    n: int,
    latency_ms: int,
    env: dict[str, str],
    workdir: Path,
    in_flight: int,
    watchers: int = 0,
    default_mode: bool = False,
    workers: int = 1,
    profile: Path | None = None,
) -> dict[str, Any]:
    """createMailing → last acceptance for n clients, with the API and a worker running
    (and, with `watchers`, that many websocket subscribers on the API watching it), while the
    API calls of PROBES are timed."""
    token = secrets.token_urlsafe(16)
    env = {
        **env,
        "PROBE_TOKEN": "bench",
        "API_ADMIN_TOKEN": token,
        "MAX_IN_FLIGHT": str(in_flight),
    }
    tree_of = default_tree if default_mode else split_tree
    async with tree_of(latency_ms, env, workdir, workers) as tree:
        api, sim = tree.api, tree.sim
        async with aiohttp.ClientSession() as session:
            await import_clients(session, f"{api}/graphql", token, n)
            worker_cpu = tree.worker_cpu()  # idle until the mailing starts
            loop_cpu = tree.worker_loop_cpu()
            sched_before = tree.worker_loop_sched()
            now = datetime.now(UTC)
            lead = timedelta(seconds=20 if watchers else 0)
            created = await gql(
                session,
                f"{api}/graphql",
                token,
                "mutation($m: MailingInput!) { createMailing(input: $m) { id startAt } }",
                m={
                    "text": "Bench",
                    "startAt": (now + lead).isoformat(),
                    "endAt": (now + timedelta(hours=1)).isoformat(),
                    "filter": {},
                },
            )
            started = datetime.fromisoformat(created["createMailing"]["startAt"]).timestamp()
            crowd = None
            if watchers:
                ws_url = api.replace("http://", "ws://") + "/graphql"
                crowd = RemoteWatchers(
                    ws_url,
                    token,
                    int(created["createMailing"]["id"]),
                    watchers,
                    workdir / "watchers.json",
                )
                await crowd.start()
                if time.time() > started:
                    raise RuntimeError("watchers connected too slowly; raise the lead time")
            cpu_before, wall_before = cpu_seconds(tree.api_pid), time.time()
            done = asyncio.Event()
            prober = asyncio.create_task(
                probe_api(session, f"{api}/graphql", token, created["createMailing"]["id"], done)
            )
            label = f"{latency_ms}ms-{workers}w" + (f"-{watchers}s" if watchers else "")
            profiled_pids = [tree.api_pid] if watchers else tree.worker_pids
            with recording(profiled_pids, profile, label) as profiled:
                while True:
                    async with session.get(f"{sim}/_sim/stats") as response:
                        stats = await response.json()
                    if stats["unique_accepted"] >= n:
                        break
                    if time.time() - started > 600:
                        raise RuntimeError(f"only {stats['unique_accepted']} of {n} accepted")
                    await asyncio.sleep(0.25)
                worker_cpu = tree.worker_cpu() - worker_cpu
                loop_cpu = tree.worker_loop_cpu() - loop_cpu
                sched_after = tree.worker_loop_sched()
            done.set()
            latencies = await prober
            async with session.get(f"{sim}/_sim/deliveries") as r:
                accepted = sorted(d["at"] for d in (await r.json())["deliveries"])
            last = accepted[-1]
            rss = max(peak_rss_mb(pid) for pid in tree.worker_pids)
            extra: dict[str, Any] = {
                "api_cpu_s": cpu_seconds(tree.api_pid) - cpu_before,
                "api_wall": time.time() - wall_before,
            }
            if crowd is not None:
                await crowd.finish(limit=120)
                lags = crowd.lags(await sent_times(env["DATABASE_URL"], crowd.mailing_id))
                extra |= {
                    "lag_p50": percentile(lags, 0.5) * 1000,
                    "lag_p95": percentile(lags, 0.95) * 1000,
                    "lag_max": max(lags) * 1000,
                    "final": float(crowd.all_final(n)),
                    "api_cpu": (cpu_seconds(tree.api_pid) - cpu_before)
                    / (time.time() - wall_before),
                    "events": float(crowd.event_count()),
                    "api_rss": peak_rss_mb(tree.api_pid),
                    "client_cpu": crowd.cpu / (time.time() - wall_before),
                }
        if sched_before and sched_after:
            wall = (sched_after[0] - sched_before[0]) * len(tree.worker_pids)
            extra["loop_ran"] = (sched_after[1] - sched_before[1]) / wall
            extra["loop_waited"] = (sched_after[2] - sched_before[2]) / wall
        return {
            **extra,
            "rate": n / (last - started),
            "seconds": last - started,
            "rss": rss,
            "dups": stats["duplicates"],
            "worker_cpu": worker_cpu / n,
            "worker_loop_cpu": loop_cpu / n,
            "profile": profiled,
            "api": {
                name: (percentile(ts, 0.5) * 1000, percentile(ts, 0.99) * 1000, len(ts))
                for name, ts in latencies.items()
            },
        }


def loop_sched_rows(result: dict[str, Any], label: str) -> list[tuple[str, str, str]]:
    """Where the workers' event-loop threads spent the delivery: on a core, waiting for one
    (the machine's cores were busy), or asleep (nothing ready to run, or the GIL held)."""
    if "loop_ran" not in result:
        return []
    ran, waited = result["loop_ran"], result["loop_waited"]
    return [
        (
            f"  the event loop's thread during delivery, {label}",
            f"{ran:.0%} on a core",
            f"{waited:.0%} waiting for a core, {max(0.0, 1 - ran - waited):.0%} asleep"
            " (nothing to run, or waiting for the GIL); /proc schedstat",
        )
    ]


def api_rows(result: dict[str, Any], label: str) -> list[tuple[str, str, str]]:
    return [
        (
            f"API `{name}` during delivery, {label}",
            f"p99 {p99:.0f} ms",
            f"p50 {p50:.0f} ms, {count} calls; target p99 ≤ 50 ms",
        )
        for name, (p50, p99, count) in result["api"].items()
    ]


async def sent_times(database_url: str, mailing_id: int) -> list[float]:
    """When each message of the mailing became SENT (the status change), oldest first."""
    await db.connect(database_url)
    try:
        rows = await conn().execute_query_dict(
            "SELECT sent_at FROM message WHERE status = 'SENT' AND mailing_id = "
            f"{int(mailing_id)} ORDER BY sent_at"
        )
    finally:
        await db.disconnect()
    return [
        (
            r["sent_at"]
            if isinstance(r["sent_at"], datetime)
            else datetime.fromisoformat(str(r["sent_at"]))
        ).timestamp()
        for r in rows
    ]


async def import_clients(session: aiohttp.ClientSession, url: str, token: str, n: int) -> None:
    query = "mutation($c: [ClientInput!]!) { importClients(clients: $c) { created } }"
    for start in range(0, n, 10_000):
        rows = [
            {"phone": f"79{i:09d}", "timezone": "Europe/Moscow"}
            for i in range(start, min(n, start + 10_000))
        ]
        await gql(session, url, token, query, c=rows)


@contextlib.asynccontextmanager
async def redis_for_bench(workdir: Path) -> AsyncIterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    async with EmbeddedRedis(workdir / "redis") as server:
        yield server.url


async def main(args: argparse.Namespace) -> None:
    # As deployed: one audit record per probe call (LOG_LEVEL=INFO), into each process's log.
    os.environ.update(LOG_LEVEL=args.log_level, LOG_FORMAT=args.log_format)
    rows: list[tuple[str, str, str]] = []
    split: dict[int, dict[str, Any]] = {}  # the separate-process results, by latency
    with tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp:
        workdir = Path(tmp)
        async with redis_for_bench(workdir) as redis_url:
            for latency in args.latencies:
                env = run_env(workdir, redis_url, f"bench-{latency}")
                # The ceiling just before and just after the delivery, half the requests
                # each, averaged: a shared machine's speed drifts over minutes, and one
                # measurement on one side of the delivery moved the ratio with it.
                n = max(1, min(args.messages, 50_000) // 2)
                before = await measured_ceiling(latency, n, args.in_flight, env, workdir)
                result = await delivery(
                    args.messages, latency, env, workdir, args.in_flight, profile=args.profile
                )
                split[latency] = result
                after = await measured_ceiling(latency, n, args.in_flight, env, workdir)
                top, top_cpu = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
                cpu = result["worker_cpu"]
                rows += [
                    (
                        f"delivery, {latency} ms probe latency",
                        f"{result['rate']:,.0f} msg/s",
                        f"{args.messages:,} messages in {result['seconds']:.1f} s;"
                        f" {result['rate'] / top:.0%} of the ceiling (target ≥ 85 %)",
                    ),
                    (
                        f"ceiling, {latency} ms (aiohttp → simulator)",
                        f"{top:,.0f} req/s",
                        f"{args.in_flight} in flight; {top_cpu * 1e6:.0f} µs CPU per request;"
                        f" mean of {before[0]:,.0f} before and {after[0]:,.0f} req/s after"
                        f" the delivery ({before[1] * 1e6:.0f} / {after[1] * 1e6:.0f} µs)",
                    ),
                    (
                        f"worker CPU per message, {latency} ms",
                        f"{cpu * 1e6:.0f} µs",
                        f"{cpu / top_cpu:.2f}x the ceiling's {top_cpu * 1e6:.0f} µs per request"
                        " (target ≤ 1.5x); user + system of the worker process",
                    ),
                    (
                        f"  of which the event loop's thread, {latency} ms",
                        f"{result['worker_loop_cpu'] * 1e6:.0f} µs",
                        f"the other threads (SQLite's connection, logging's writer):"
                        f" {(cpu - result['worker_loop_cpu']) * 1e6:.0f} µs",
                    ),
                    *loop_sched_rows(result, f"{latency} ms"),
                    (f"worker peak RSS, {latency} ms", f"{result['rss']:.0f} MB", "VmHWM"),
                    *api_rows(result, f"{latency} ms"),
                    (f"duplicates at the probe, {latency} ms", f"{result['dups']}", ""),
                ]
            if args.default_mode:
                rows += await default_rows(args, workdir, split.get(0), redis_url)
            if args.watchers:
                rows += await live_rows(args, workdir, redis_url)
            if args.scale:
                rows += await scale_rows(args, workdir, redis_url)
            for result in split.values():
                if result["profile"]:
                    rows += summarise(result["profile"])
            if args.profile:
                rows += summarise(sorted(args.profile.glob("*-1000s-*.txt")))
        if args.fanout:
            rows += await fanout_rows(args.fanout, workdir)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'result':>14}  notes")
    print(f"{'-' * width}  {'-' * 14}  {'-' * 40}")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")
    print(json.dumps({"machine": f"{os.cpu_count()} cores", "python": sys.version.split()[0]}))


def run_env(workdir: Path, redis_url: str, name: str) -> dict[str, str]:
    """The environment of one delivery run: BENCH_DATABASE_URL, else a fresh SQLite file
    named `name`, its own queue name, the bench's Redis."""
    db_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite://{workdir / f'{name}.sqlite3'}"
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "QUEUE_NAME": f"herald:bench:{secrets.token_hex(3)}",
        "DATA_DIR": str(workdir),
    }


async def default_rows(
    args: argparse.Namespace, workdir: Path, split: dict[str, Any] | None, redis_url: str
) -> list[tuple[str, str, str]]:
    """`herald serve --probe-sim` as `make run` starts it, 0 ms probe latency, against the
    separate-process figure of this run: the mean of the 0 ms row (run before it) and one
    more separate-process run right after it, as the machine's speed drifts over minutes."""
    from herald.supervisor import default_workers

    result = await delivery(
        args.messages, 0, dict(os.environ), workdir, args.in_flight, default_mode=True
    )
    versus = "no separate-process 0 ms run to compare with"
    if split:
        later = await delivery(
            args.messages,
            0,
            run_env(workdir, redis_url, "bench-0-after"),
            workdir,
            args.in_flight,
        )
        mean = (split["rate"] + later["rate"]) / 2
        versus = (
            f"{result['rate'] / mean:.0%} of the separate-process {mean:,.0f} msg/s in this"
            f" run (mean of {split['rate']:,.0f} before and {later['rate']:,.0f} after;"
            " target ≥ 80 %)"
        )
    label = "default mode"
    return [
        (
            f"{label} (`herald serve --probe-sim`), 0 ms",
            f"{result['rate']:,.0f} msg/s",
            f"{args.messages:,} in {result['seconds']:.1f} s; {versus}; "
            f"{default_workers()} worker process(es)",
        ),
        (f"{label}: worker peak RSS", f"{result['rss']:.0f} MB", "VmHWM of a worker child"),
        *api_rows(result, label),
        (f"{label}: duplicates at the probe", f"{result['dups']}", ""),
    ]


async def live_rows(
    args: argparse.Namespace, workdir: Path, redis_url: str
) -> list[tuple[str, str, str]]:
    # Without subscribers just before and just after the run with them, averaged: a pair of
    # runs a minute apart differed by up to 13 % with nothing changed between them.
    results = []
    for n, watchers in enumerate((0, args.watchers, 0)):
        env = run_env(workdir, redis_url, f"live-{n}-{watchers}")
        results.append(
            await delivery(
                args.messages,
                0,
                env,
                workdir,
                args.in_flight,
                watchers,
                profile=args.profile if watchers else None,
            )
        )
    before, watched, after = results
    alone_rate = (before["rate"] + after["rate"]) / 2
    drop = 1 - watched["rate"] / alone_rate
    # The API's CPU for everything but the subscribers (the timed API calls, the worker's
    # notifications) goes at the rate of the runs without them.
    api_rate = sum(r["api_cpu_s"] / r["api_wall"] for r in (before, after)) / 2
    base = api_rate * watched["api_wall"]
    per_event = (watched["api_cpu_s"] - base) / max(1.0, watched["events"])
    return [
        (
            f"{args.watchers:,} subscribers: all got the final counts",
            "yes" if watched["final"] else "NO",
            "FINISHED snapshot with every message SENT",
        ),
        (
            "subscriber lag, status change → arrival",
            f"p95 {watched['lag_p95']:.0f} ms",
            f"p50 {watched['lag_p50']:.0f} ms, max {watched['lag_max']:.0f} ms;"
            " target p95 ≤ 300 ms",
        ),
        (
            "delivery rate with / without subscribers",
            f"{watched['rate']:,.0f} msg/s",
            f"{alone_rate:,.0f} msg/s alone (mean of {before['rate']:,.0f} before and"
            f" {after['rate']:,.0f} after): {drop:.0%} slower (target ≤ 10 %)",
        ),
        (
            "API process during delivery with subscribers",
            f"{watched['api_cpu']:.0%} CPU",
            f"peak RSS {watched['api_rss']:.0f} MB; the watchers' process:"
            f" {watched['client_cpu']:.0%} CPU",
        ),
        (
            "API CPU per subscriber event",
            f"{per_event * 1e6:.0f} µs",
            f"{watched['events']:,.0f} events; the API's CPU with subscribers minus its rate"
            f" without them ({watched['api_cpu_s']:.1f} - {base:.1f} s), per event",
        ),
    ]


async def scale_rows(
    args: argparse.Namespace, workdir: Path, redis_url: str
) -> list[tuple[str, str, str]]:
    """One worker process, then two, at 100 ms probe latency (the CPU is not the limit)."""
    results = {}
    for workers in (1, 2):
        env = run_env(workdir, redis_url, f"scale-{workers}")
        results[workers] = await delivery(
            args.messages, 100, env, workdir, args.in_flight, workers=workers
        )
    one, two = results[1], results[2]
    dialect = "PostgreSQL" if os.environ.get("BENCH_DATABASE_URL") else "SQLite"
    return [
        (
            f"2 workers / 1 worker, 100 ms ({dialect})",
            f"{two['rate'] / one['rate']:.2f}x",
            f"{two['rate']:,.0f} vs {one['rate']:,.0f} msg/s (target ≥ 1.6x on PostgreSQL);"
            f" duplicates {one['dups']} / {two['dups']} (target 0)",
        ),
    ]


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--latencies", type=int, nargs="*", default=[0, 100])
    parser.add_argument("--fanout", type=int, default=1_000_000)
    parser.add_argument("--in-flight", type=int, default=512)
    parser.add_argument("--watchers", type=int, default=1000, help="0: no subscriber rows")
    parser.add_argument("--log-level", default="INFO", help="the processes' LOG_LEVEL")
    parser.add_argument("--log-format", default="json", choices=("json", "text"))
    parser.add_argument(
        "--scale", action="store_true", help="also one worker against two at 100 ms latency"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy the worker during each delivery row (the API during the subscribers' row);"
        " raw stacks into DIR, top entries printed",
    )
    parser.add_argument(
        "--no-default-mode",
        dest="default_mode",
        action="store_false",
        help="skip the default-mode row (`herald serve --probe-sim` as `make run` starts it)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
