"""Shared fixtures: a real database with migrations applied (SQLite always, PostgreSQL too
when TEST_DATABASE_URL is set), the real app over HTTP, tokens made at run time, and the
delivery engine (real Redis, the probe simulator as a real HTTP server) that the jobs, gql and
herald tests drive. Helpers are in tests/support/."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from arq import create_pool
from arq.connections import ArqRedis

from herald import db
from herald.app import AppState, create_app
from herald.clock import utc_now
from herald.settings import Settings
from jobs.probe import ProbeClient
from jobs.probe_once import probe_sender
from jobs.start import enqueue_start
from models.mailing import Mailing
from tests.support.api import GQL
from tests.support.database import BACKENDS, pg_url, reset_postgres_schema, truncate_all
from tests.support.engine import Engine, forget
from tests.support.redis import RedisProcess
from tests.support.ws import served
from tools.probesim import RunningSim, SimConfig, start_simulator
from tools.redis_server import EmbeddedRedis, arq_settings


@pytest.fixture(scope="session")
def migrated_urls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    urls = {"sqlite": f"sqlite://{tmp_path_factory.mktemp('db') / 'herald.sqlite3'}"}
    if "postgres" in BACKENDS:
        urls["postgres"] = pg_url()
        asyncio.run(reset_postgres_schema(urls["postgres"]))
    for url in urls.values():
        asyncio.run(db.migrate(url))
    return urls


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, migrated_urls: dict[str, str]) -> str:
    return migrated_urls[request.param]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    await db.connect(database_url)
    await truncate_all()
    try:
        yield database_url
    finally:
        await db.disconnect()


@pytest.fixture
def admin_token() -> str:
    return "adm_" + secrets.token_urlsafe(16)


@pytest.fixture
def settings(database_url: str, admin_token: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "API_ADMIN_TOKEN": admin_token,
            "DATA_DIR": str(tmp_path),
        }
    )


@pytest.fixture
async def client(database: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(AppState(settings=settings, manage_db=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as http:
        yield http


@pytest.fixture
def gql(client: httpx.AsyncClient, admin_token: str) -> GQL:
    return GQL(client, admin_token)


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    """TEST_REDIS_URL as given (the tests never flush it: they use their own key prefix), or
    a private embedded server."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    async with EmbeddedRedis(tmp_path / "redis") as server:
        yield server.url


@pytest.fixture
def queue() -> str:
    """This test's queue name, also the prefix of every key it makes in Redis."""
    return f"herald:test:{secrets.token_hex(4)}"


@pytest.fixture
async def redis(redis_url: str, queue: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(arq_settings(redis_url))
    yield pool
    await forget(pool, queue)
    await pool.aclose()


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    probe_token = secrets.token_urlsafe(12)
    running = await start_simulator(SimConfig(token=probe_token))
    running.state.config.token = probe_token
    yield running
    await running.stop()


@pytest.fixture
async def engine(
    database: str,
    redis: ArqRedis,
    redis_url: str,
    queue: str,
    sim: RunningSim,
    tmp_path: Path,
    admin_token: str,
) -> AsyncIterator[Engine]:
    env = {
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "PROBE_URL": sim.url,
        "PROBE_TOKEN": sim.state.config.token or "",
        "API_ADMIN_TOKEN": admin_token,
        "DATA_DIR": str(tmp_path),
        "LEASE_SECONDS": "3",
        "SWEEP_INTERVAL": "1",
        "BACKOFF_BASE": "0.05",
        "BACKOFF_CAP": "0.2",
        "PROBE_TIMEOUT": "1.5",
        "MAX_ATTEMPTS": "8",
        "CIRCUIT_TRIAL_SECONDS": "0.3",
        "QUEUE_NAME": queue,
    }
    settings = Settings.from_env(env)
    state = AppState(settings=settings, manage_db=False)

    async def enqueue(mailing_id: int, mailing: Mailing | None) -> None:
        if mailing is not None:
            await enqueue_start(redis, queue, mailing)

    state.on_mailing_change = enqueue
    # testSend's probe call, as herald/app.py's `delivery` makes it (no lifespan runs here).
    probe = ProbeClient(
        sim.url, settings.probe_token.get(), timeout=settings.probe_timeout, clock=utc_now
    )
    state.probe_send = probe_sender(probe)
    app = create_app(state)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://herald.test"
    ) as http:
        engine = Engine(
            GQL(http, admin_token), sim, settings, redis, queue, env=env, redis_url=redis_url
        )
        try:
            yield engine
        finally:
            await engine.stop_workers()
            await probe.close()


@pytest.fixture
async def url(database: str, settings: Settings) -> AsyncIterator[str]:
    """The app with its delivery engine (a private Redis) behind a real uvicorn: its ws URL."""
    async with served(settings) as ws_url:
        yield ws_url


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    """A redis-server of the test's own, to kill, stop (SIGSTOP) and start again."""
    redis = RedisProcess(tmp_path / "own-redis")
    await redis.start()
    try:
        yield redis
    finally:
        if redis.server is not None and redis.server.process is not None:
            redis.signal(signal.SIGCONT)  # never leave a stopped process behind
        await redis.close()
