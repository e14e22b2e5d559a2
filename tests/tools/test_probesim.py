"""The probe simulator, exercised over real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import tools.probesim
from tools.probesim import RunningSim, SimConfig, parse_args, start_simulator

TOKEN = "sim-token-123"
PHONE = 79001234567
REPO = Path(tools.probesim.__file__).resolve().parent.parent


@asynccontextmanager
async def running(**config: Any) -> AsyncIterator[tuple[RunningSim, httpx.AsyncClient]]:
    sim = await start_simulator(SimConfig(**config))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
            yield sim, http
    finally:
        await sim.stop()


async def send(
    http: httpx.AsyncClient, msg_id: int, body: Any = None, token: str | None = None
) -> httpx.Response:
    payload = {"id": msg_id, "phone": PHONE, "text": f"hello {msg_id}"} if body is None else body
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return await http.post(f"/v1/send/{msg_id}", json=payload, headers=headers)


async def stats(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/_sim/stats")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


async def test_accepts_and_records_a_delivery() -> None:
    async with running() as (sim, http):
        before = time.time()
        response = await send(http, 5)
        assert response.status_code == 200
        assert response.json() == {"code": 0, "message": "OK"}
        deliveries = (await http.get("/_sim/deliveries")).json()["deliveries"]
        assert sim.url == f"http://127.0.0.1:{sim.port}/v1"
    [record] = deliveries
    assert {k: record[k] for k in ("id", "phone", "text", "count")} == {
        "id": 5,
        "phone": PHONE,
        "text": "hello 5",
        "count": 1,
    }
    assert before <= record["at"] <= time.time()
    assert sim.state.deliveries[5].text == "hello 5"


@pytest.mark.parametrize(
    "body",
    [
        {"id": 6, "phone": PHONE, "text": "id differs from path"},
        {"id": 5, "phone": str(PHONE), "text": "phone as string"},
        {"id": 5, "phone": 7900123456, "text": "ten digits"},
        {"id": 5, "phone": 89001234567, "text": "starts with 8"},
        {"id": 5, "phone": PHONE},
        {"id": 5, "phone": PHONE, "text": 12},
        {"id": True, "phone": PHONE, "text": "bool id"},
        [5, PHONE, "not an object"],
    ],
)
async def test_invalid_bodies_are_400(body: Any) -> None:
    async with running() as (_, http):
        response = await send(http, 5, body)
        assert response.status_code == 400
        assert (await stats(http))["by_outcome"]["400"] == 1


async def test_non_json_body_and_non_integer_path_are_400() -> None:
    async with running() as (sim, http):
        assert (await http.post("/v1/send/5", content=b"{nope")).status_code == 400
        body = {"id": 5, "phone": PHONE, "text": "x"}
        assert (await http.post("/v1/send/abc", json=body)).status_code == 400
        assert sim.state.deliveries == {}


@pytest.mark.parametrize(
    ("knob", "value", "status", "outcome"),
    [
        ("error_rate", 1.0, 500, "5xx"),
        ("throttle_rate", 1.0, 429, "429"),
        ("garbage_rate", 1.0, 200, "garbage"),
        ("reject_rate", 1.0, 400, "400"),
        ("down", True, 503, "down"),
    ],
)
async def test_fault_knobs(knob: str, value: Any, status: int, outcome: str) -> None:
    async with running(**{knob: value}) as (sim, http):
        responses = [await send(http, i) for i in range(5)]
        counters = await stats(http)
    assert {r.status_code for r in responses} == {status}
    assert counters["by_outcome"][outcome] == 5
    assert counters["requests"] == 5
    assert counters["accepted"] == 0
    assert sim.state.deliveries == {}
    if knob == "throttle_rate":
        assert all(r.headers["Retry-After"] == "1" for r in responses)
    if knob == "garbage_rate":
        for r in responses:
            assert not r.content.startswith(b"{") or json.loads(r.content)["code"] != 0


async def test_timeout_hangs_then_answers_504() -> None:
    async with running(timeout_rate=1.0, hang_seconds=0.2) as (_, http):
        started = time.monotonic()
        response = await send(http, 1)
        assert time.monotonic() - started >= 0.2
        assert response.status_code == 504
        assert (await stats(http))["by_outcome"]["timeout"] == 1


async def test_stop_releases_hanging_requests() -> None:
    sim = await start_simulator(SimConfig(timeout_rate=1.0, hang_seconds=30))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
        pending = asyncio.create_task(send(http, 1))
        while sim.state.in_flight == 0:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await sim.stop()
        assert time.monotonic() - started < 5
        response = await pending
    assert response.status_code == 504


async def test_latency_is_applied_without_blocking() -> None:
    async with running(latency_ms=200) as (_, http):
        started = time.monotonic()
        responses = await asyncio.gather(*(send(http, i) for i in range(10)))
        elapsed = time.monotonic() - started
        counters = await stats(http)
    assert all(r.status_code == 200 for r in responses)
    assert 0.2 <= elapsed < 1.5
    assert counters["max_in_flight"] == 10
    assert counters["in_flight"] == 0


async def test_token_check() -> None:
    async with running(token=TOKEN) as (_, http):
        assert (await send(http, 1)).status_code == 401
        assert (await send(http, 2, token="wrong")).status_code == 401
        assert (await send(http, 3, token=TOKEN)).status_code == 200
        config = await http.get("/_sim/config")
        counters = await stats(http)
    assert counters["by_outcome"]["401"] == 2
    assert counters["by_outcome"]["ok"] == 1
    assert config.json()["token_set"] is True
    assert "token" not in config.json()
    assert TOKEN not in config.text


async def test_fault_order_down_then_token_then_faults() -> None:
    async with running(token=TOKEN, error_rate=1.0, down=True) as (_, http):
        assert (await send(http, 1)).status_code == 503
        await http.put("/_sim/config", json={"down": False})
        assert (await send(http, 1)).status_code == 401
        assert (await send(http, 1, token=TOKEN)).status_code == 500


async def test_downtime_windows_are_relative_to_start() -> None:
    async with running(downtime=[(0.0, 0.3), (0.6, 30.0)]) as (_, http):
        assert (await send(http, 1)).status_code == 503
        await asyncio.sleep(0.35)
        assert (await send(http, 2)).status_code == 200
        await asyncio.sleep(0.3)
        assert (await send(http, 3)).status_code == 503
        assert (await stats(http))["by_outcome"]["down"] == 2


async def test_put_config_updates_partially() -> None:
    async with running(latency_ms=1) as (_, http):
        response = await http.put("/_sim/config", json={"error_rate": 1, "token": "new-secret"})
        assert response.status_code == 200
        config = response.json()
        assert config["error_rate"] == 1.0
        assert config["latency_ms"] == 1.0
        assert config["token_set"] is True
        assert "new-secret" not in response.text
        assert (await send(http, 1, token="new-secret")).status_code == 500
        assert (await http.get("/_sim/config")).json() == config


@pytest.mark.parametrize(
    "update",
    [
        {"nope": 1},
        {"error_rate": 1.5},
        {"error_rate": "1"},
        {"latency_ms": -1},
        {"down": 1},
        {"token": 5},
        {"downtime": [[0, 1, 2]]},
        {"error_rate": 1, "seed": "x"},
        [1, 2],
    ],
)
async def test_put_config_rejects_bad_updates_whole(update: Any) -> None:
    async with running() as (_, http):
        before = (await http.get("/_sim/config")).json()
        response = await http.put("/_sim/config", json=update)
        assert response.status_code == 400
        assert (await http.get("/_sim/config")).json() == before


async def test_duplicates_are_counted() -> None:
    async with running() as (_, http):
        for msg_id in (1, 2, 1, 1):
            assert (await send(http, msg_id)).status_code == 200
        counters = await stats(http)
        deliveries = (await http.get("/_sim/deliveries")).json()["deliveries"]
    assert counters["accepted"] == 4
    assert counters["unique_accepted"] == 2
    assert counters["duplicates"] == 2
    assert {d["id"]: d["count"] for d in deliveries} == {1: 3, 2: 1}


async def test_reset_clears_records() -> None:
    async with running(error_rate=0.5, seed=1) as (_, http):
        for i in range(10):
            await send(http, i)
        assert (await http.post("/_sim/reset")).status_code == 200
        counters = await stats(http)
        deliveries = (await http.get("/_sim/deliveries")).json()["deliveries"]
        config = (await http.get("/_sim/config")).json()
    assert deliveries == []
    assert counters["requests"] == counters["accepted"] == counters["duplicates"] == 0
    assert set(counters["by_outcome"].values()) == {0}
    assert config["error_rate"] == 0.5


async def test_seed_makes_faults_reproducible() -> None:
    runs = []
    for _ in range(2):
        async with running(error_rate=0.5, seed=42) as (_, http):
            runs.append([(await send(http, i)).status_code for i in range(20)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500}


async def test_binds_loopback_by_default() -> None:
    sim = await start_simulator(SimConfig())
    try:
        assert sim.host == "127.0.0.1"
        assert [addr[0] for addr in sim.runner.addresses] == ["127.0.0.1"]
        assert sim.port > 0
    finally:
        await sim.stop()


def test_parse_args_reads_token_from_environment_only() -> None:
    argv = ["--token-env", "SIM_TOKEN", "--error-rate", "0.25", "--down-after", "5"]
    config, host, port, _ = parse_args([*argv, "--down-for", "10"], {"SIM_TOKEN": TOKEN})
    assert (host, port) == ("127.0.0.1", 8081)
    assert config.token == TOKEN
    assert config.error_rate == 0.25
    assert config.downtime == [(5.0, 10.0)]
    assert TOKEN not in repr(config)


@pytest.mark.parametrize(
    "argv",
    [["--token-env", "MISSING"], ["--down-after", "5"], ["--error-rate", "2"]],
)
def test_parse_args_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv, {})


async def test_cli_serves_until_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SIM_TOKEN": TOKEN}
    code = "import sys; from tools.probesim import main; main(sys.argv[1:])"
    args = [sys.executable, "-c", code, "--port", "0", "--token-env", "SIM_TOKEN"]
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
        assert line.startswith("probe-sim listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        async with httpx.AsyncClient() as http:
            body = {"id": 1, "phone": PHONE, "text": "hi"}
            headers = {"Authorization": f"Bearer {TOKEN}"}
            response = await http.post(f"{url}/send/1", json=body, headers=headers)
        assert response.status_code == 200
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, stderr
