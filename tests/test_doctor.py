"""`herald doctor` as an operator runs it, a subprocess against a seeded database, a real Redis
and the probe simulator: one line per check, exit 1 when any fails, `--fix` recounts counters."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.health import WorkerHeartbeat
from models.mailing import Mailing, MailingState
from models.message import Message, MessageStatus
from models.sql import db as connection
from tests.support.database import BACKENDS
from tools.probesim import RunningSim, SimConfig, start_simulator
from tools.redis_server import EmbeddedRedis


@dataclass
class Outcome:
    code: int
    lines: dict[str, str]  # check name -> "ok  detail" / "FAIL  detail"
    text: str


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    async with EmbeddedRedis(tmp_path / "redis") as server:
        yield server.url


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    running = await start_simulator(SimConfig(token=secrets.token_urlsafe(12)))
    yield running
    await running.stop()


@pytest.fixture
def env(
    database: str, redis_url: str, sim: RunningSim, tmp_path: Path, admin_token: str
) -> dict[str, str]:
    return {
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "PROBE_URL": sim.url,
        "PROBE_TOKEN": sim.state.config.token or "",
        "API_ADMIN_TOKEN": admin_token,
        "DATA_DIR": str(tmp_path),
    }


async def doctor(env: dict[str, str], *args: str) -> Outcome:
    """Run without blocking the loop: the probe simulator answers on it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "herald.cli",
        "doctor",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    lines = {}
    for line in text.splitlines():
        status, name, detail = line.split(maxsplit=2)
        assert status in ("ok", "FAIL"), text
        lines[name] = f"{status}  {detail}"
    assert process.returncode is not None
    return Outcome(process.returncode, lines, text)


async def seed() -> list[int]:
    """Two mailings with messages in several statuses, and a worker that beat just now."""
    now = datetime.now(UTC)
    ids = []
    for n in (3, 5):
        mailing = await Mailing.create(
            text="hi", start_at=now, end_at=now + timedelta(hours=1), state=MailingState.RUNNING
        )
        statuses = [MessageStatus.SENT, MessageStatus.PENDING, MessageStatus.FAILED]
        await Message.bulk_create(
            Message(
                mailing_id=mailing.id,
                phone=f"79{mailing.id:03d}{i:06d}",
                timezone="UTC",
                status=statuses[i % 3],
            )
            for i in range(n)
        )
        ids.append(mailing.id)
    await WorkerHeartbeat.all().delete()
    await WorkerHeartbeat.create(worker_id="w", host="h", pid=1, seen_at=now)
    return ids


async def test_all_ok(env: dict[str, str]) -> None:
    await seed()
    result = await doctor(env)
    assert result.code == 0, result.text
    assert set(result.lines) == {"database", "migrations", "redis", "probe", "counters", "worker"}
    assert all(line.startswith("ok") for line in result.lines.values()), result.text
    assert env["PROBE_TOKEN"] not in result.text


async def test_each_failure_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    await seed()
    await WorkerHeartbeat.all().delete()
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    wrong = "wrong-" + secrets.token_hex(8)
    result = await doctor(
        {**env, "PROBE_TOKEN": wrong, "REDIS_URL": f"redis://127.0.0.1:{closed}/0"}
    )
    assert result.code == 1, result.text
    assert result.lines["probe"].startswith("FAIL  token refused (HTTP 401)"), result.text
    assert result.lines["redis"].startswith("FAIL  unreachable"), result.text
    assert result.lines["worker"] == "FAIL  no worker heartbeat", result.text
    assert result.lines["database"].startswith("ok"), result.text
    assert wrong not in result.text
    assert "Traceback" not in result.text

    fresh = {**env, "DATABASE_URL": f"sqlite://{tmp_path / 'never-migrated.sqlite3'}"}
    result = await doctor(fresh)
    assert result.code == 1, result.text
    assert result.lines["migrations"].startswith("FAIL  not applied: 0001_initial"), result.text


async def test_fix_recounts_a_corrupted_counter(env: dict[str, str]) -> None:
    first, second = await seed()
    await connection().execute_script(
        f"UPDATE mailing_stat SET n = n + 7 WHERE mailing_id = {second} AND status = 'SENT'"
    )
    result = await doctor(env)
    assert result.code == 1, result.text
    counters = result.lines["counters"]
    assert counters.startswith(f"FAIL  drifted: mailing {second}: kept "), result.text
    assert f"mailing {first}" not in counters

    fixed = await doctor(env, "--fix")
    assert fixed.code == 0, fixed.text
    assert fixed.lines["counters"] == f"ok  recounted mailing(s) {second}; all match now"
    again = await doctor(env)
    assert again.code == 0, again.text
    assert again.lines["counters"].startswith("ok")


if "postgres" in BACKENDS:  # TRUNCATE is PostgreSQL's (SQLite's DELETE fires the triggers)

    @pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
    async def test_fix_repairs_counters_after_a_truncate(env: dict[str, str]) -> None:
        first, second = await seed()
        await connection().execute_script("TRUNCATE message")  # fires no DELETE trigger
        result = await doctor(env)
        assert result.code == 1, result.text
        assert f"mailing {first}: kept " in result.lines["counters"], result.text
        assert f"mailing {second}: kept " in result.lines["counters"], result.text
        assert "messages none" in result.lines["counters"]

        fixed = await doctor(env, "--fix")
        assert fixed.code == 0, fixed.text
        assert (await doctor(env)).code == 0
        assert not await connection().execute_query_dict("SELECT * FROM mailing_stat WHERE n <> 0")
