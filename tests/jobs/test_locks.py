"""The API stays correct and fast while a separate worker process writes: no lock error (SQLite
"database is locked", PostgreSQL deadlocks) ever reaches a client, and a deadlock never costs
the worker a flush."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from models.client import Client
from models.message import Message
from tests.support.database import BACKENDS
from tests.support.delivery import (
    all_final,
    clients,
    counters_match_messages,
    mailing,
    sim_at_least,
)
from tests.support.engine import Engine, wait_for
from tests.support.procs import stop

DELETE_CLIENT = "mutation($id: ID!) { deleteClient(id: $id) }"
DELETE_MAILING = "mutation($id: ID!) { deleteMailing(id: $id) }"
UPDATE_CLIENT = (
    "mutation($id: ID!, $tag: String) { updateClient(id: $id, input: {tag: $tag}) { id } }"
)


@contextmanager
def worker_process(engine: Engine, log: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real `herald worker` on the engine's database, Redis and queue; stderr goes to `log`."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "herald.cli", "worker"],
            env={**os.environ, **engine.env, "LOG_LEVEL": "WARNING", **env},
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Calls:
    """Latencies and errors of API calls made while the worker writes."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[tuple[str, Any]] = []

    async def run(self, engine: Engine, query: str, **variables: Any) -> None:
        started = time.perf_counter()
        body = await engine.gql(query, **variables)
        self.latencies.append(time.perf_counter() - started)
        if body.get("errors"):
            self.errors.append((body["errors"][0].get("path", ["?"])[0], body["errors"]))

    def failures(self) -> dict[str, int]:
        return dict(Counter(name for name, _ in self.errors))

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(len(ordered) * 0.99)] if ordered else 0.0


def api_retries(caplog: pytest.LogCaptureFixture) -> int:
    """Write transactions this process re-ran after a lock conflict (see models/sql.py)."""
    return sum(r.name == "models.sql" and "lock conflict" in r.message for r in caplog.records)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_api_writes_never_see_a_locked_database(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await clients(engine, 3000, tag="audience")
    await clients(engine, 400, tag="spare", start=5000)
    engine.configure(latency_ms=0)
    with worker_process(engine, tmp_path / "worker.log", MAX_IN_FLIGHT="100", BATCH_SIZE="50"):
        mid = await mailing(engine, filter={"tags": ["audience"]})
        await wait_for(lambda: sim_at_least(engine, 100), timeout=60, what="sending under way")
        audience = [
            int(str(i)) for i in await Client.filter(tag="audience").values_list("id", flat=True)
        ]
        spare = [int(str(i)) for i in await Client.filter(tag="spare").values_list("id", flat=True)]
        calls = Calls()

        async def operator(n: int) -> None:
            for round_ in range(8):
                victim = audience[n * 8 + round_]
                await calls.run(engine, DELETE_CLIENT, id=str(victim))
                await calls.run(engine, UPDATE_CLIENT, id=str(spare[n * 8 + round_]), tag="x")
                other = await mailing(engine, filter={"tags": ["spare"]})
                await calls.run(engine, DELETE_MAILING, id=str(other))

        await asyncio.gather(*(operator(n) for n in range(20)))
        await wait_for(lambda: all_final(mid), timeout=120, what="mailing delivered")
    print(
        f"\nSQLite API calls: {len(calls.latencies)}, p99 {calls.p99() * 1000:.0f} ms,"
        f" retried: {api_retries(caplog)}"
    )
    assert calls.failures() == {}, calls.errors[:3]
    assert await Message.filter(mailing_id=mid).count() == 3000
    assert await counters_match_messages()


if "postgres" in BACKENDS:  # PostgreSQL only: without TEST_DATABASE_URL it is not collected

    @pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
    async def test_postgres_deleting_running_mailings_never_deadlocks(
        engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        await clients(engine, 5000)
        engine.configure(latency_ms=20, jitter_ms=20, error_rate=0.2)
        log = tmp_path / "worker.log"
        deleted = Calls()
        with worker_process(engine, log, MAX_IN_FLIGHT="300", BATCH_SIZE="100") as worker:
            for _ in range(10):
                mid = await mailing(engine)
                target = len(engine.sim.state.deliveries) + 600
                await wait_for(partial(sim_at_least, engine, target), 60, "sending under way")
                await deleted.run(engine, DELETE_MAILING, id=str(mid))
                if not deleted.errors:
                    assert not await Message.filter(mailing_id=mid).exists()
            # A graceful stop drains: outcomes in flight at the last delete are written
            # (and any deadlock they meet is logged) before it exits.
            assert await stop(worker) == 0, log.read_text()
        worker_errors = log.read_text()
        print(
            f"\ndeleteMailing: {len(deleted.errors)} of {len(deleted.latencies)} failed,"
            f" p99 {deleted.p99() * 1000:.0f} ms;"
            f" worker deadlocks: {worker_errors.count('deadlock detected')},"
            f" worker retries: {worker_errors.count('lock conflict')},"
            f" API retries: {api_retries(caplog)}"
        )
        assert deleted.failures() == {}, deleted.errors[:3]
        # No deadlock at all. Stop 18 had weakened this to "each one retried" after CI met 4;
        # 8 runs in stop 19 and 29 on 2026-12-08 (25 of them beside 3 CPU burners) met none,
        # and every writer locks messages in id order. Should one recur, its retry line
        # carries PostgreSQL's DETAIL (who waited for which lock): the assertion shows it.
        deadlocks = [line for line in worker_errors.splitlines() if "deadlock" in line]
        assert not deadlocks, "\n".join(deadlocks)
        assert "giving up" not in worker_errors and "Traceback" not in worker_errors
        assert await counters_match_messages()
