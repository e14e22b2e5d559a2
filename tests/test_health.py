"""Liveness and readiness: /healthz answers while the process serves; /readyz is 200 only when
the database and Redis answer and a worker's heartbeat is fresh, and a 503 naming what is
wrong otherwise, within about a second even when Redis hangs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from models.health import WorkerHeartbeat
from tests.support.engine import wait_for
from tests.support.procs import running, stop
from tests.support.redis import RedisProcess


def herald(log: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "herald.cli", *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def served_url(log: Path, timeout: float = 30) -> str:
    """The address `herald serve --port 0` logged once it listens."""
    found: list[str] = []

    async def listening() -> bool:
        found[:] = re.findall(r"Herald on (http://[\d.]+:\d+)/graphql", log.read_text())[:1]
        return bool(found)

    await wait_for(listening, timeout, f"serve to listen (log: {log})")
    return found[0]


async def until(http: httpx.AsyncClient, status: int, timeout: float = 30) -> dict[str, Any]:
    """Poll /readyz until it answers `status`; its body."""
    last: list[httpx.Response] = []

    async def answered() -> bool:
        last[:] = [await http.get("/readyz")]
        return last[0].status_code == status

    await wait_for(answered, timeout, f"/readyz {status}")
    body: dict[str, Any] = last[0].json()
    return body


async def test_readiness_follows_the_worker_and_redis(
    database: str, own_redis: RedisProcess, tmp_path: Path, admin_token: str
) -> None:
    await WorkerHeartbeat.all().delete()
    env = {
        "DATABASE_URL": database,
        "REDIS_URL": own_redis.url,
        "API_ADMIN_TOKEN": admin_token,
        "DATA_DIR": str(tmp_path),
        "PROBE_URL": "http://127.0.0.1:9/v1",  # nothing is sent in this test
        "SWEEP_INTERVAL": "1",
        "QUEUE_NAME": f"herald:test:health:{os.getpid()}",
        "LOG_LEVEL": "INFO",
    }
    serve_log = tmp_path / "serve.log"
    with running(
        herald(serve_log, env, "serve", "--no-worker", "--port", "0", "--host", "127.0.0.1")
    ):
        async with httpx.AsyncClient(base_url=await served_url(serve_log), timeout=10) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            assert (await http.get("/health")).json() == {"status": "ok"}
            body = await until(http, 503)  # API only, and no worker anywhere
            assert body == {
                "status": "not ready",
                "checks": {"database": "ok", "redis": "ok", "worker": "no worker heartbeat"},
            }

            worker = herald(tmp_path / "worker.log", env, "worker")
            with running(worker):
                body = await until(http, 200)
                assert body == {
                    "status": "ready",
                    "checks": {"database": "ok", "redis": "ok", "worker": "ok"},
                }

                own_redis.signal(signal.SIGSTOP)  # hung: connections open, no answer
                response = await http.get("/readyz")  # answers: the Redis check is bounded
                assert response.status_code == 503, response.text
                assert response.json()["checks"]["redis"] == "unreachable: TimeoutError"
                assert response.json()["checks"]["database"] == "ok"
                assert (await http.get("/healthz")).status_code == 200  # alive all the same

                own_redis.signal(signal.SIGCONT)
                assert (await until(http, 200))["status"] == "ready"

                assert await stop(worker) == 0
            body = await until(http, 503)  # a clean stop removes the worker's heartbeat
            worker_log = (tmp_path / "worker.log").read_text()
            assert body["checks"]["worker"] == "no worker heartbeat", worker_log[-4000:]
    assert "Traceback" not in serve_log.read_text()


async def test_a_stale_heartbeat_is_not_ready(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    await WorkerHeartbeat.all().delete()
    await WorkerHeartbeat.create(
        worker_id="w1", host="h", pid=1, seen_at=now - timedelta(seconds=60)
    )
    response = await client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert re.fullmatch(r"no heartbeat for \d+ s", checks["worker"]), checks
    assert 60 <= int(checks["worker"].split()[3]) < 120

    await WorkerHeartbeat.create(worker_id="w2", host="h", pid=2, seen_at=now)
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "worker": "ok"}}
