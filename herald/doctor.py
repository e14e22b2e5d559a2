"""`herald doctor`: what an operator would otherwise check by hand, one line per check.

Each check is bounded by a timeout and turns any failure into a FAIL line naming it; the rules
(counter drift and recount, heartbeat freshness) live in models/, the probe request goes
through jobs/probe.py's transport (the boundary that translates aiohttp's failures)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from herald import db
from herald.clock import utc_now
from herald.settings import Settings
from jobs.probe import AiohttpTransport, TransportError
from models import health
from models.stats import Drift, counter_drift, recount

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
CHECK_TIMEOUT = 5.0  # seconds per check (the counters get COUNT_TIMEOUT)
COUNT_TIMEOUT = 120.0  # a COUNT(*) over every message: minutes on a huge table are a finding
REDIS_TIMEOUT = 2.0
PROBE_TIMEOUT = 5.0
SHOWN = 5  # drifted mailings named in the counters line


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL':<4}  {self.name:<10}  {self.detail}"


async def migrations() -> Result:
    """The files in migrations/ against tortoise's record of applied ones (the table
    `tortoise_migrations`, one row per (app, name) applied)."""
    files = sorted(p.stem for p in MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
    applied = await health.applied_migrations()
    pending = [name for name in files if name not in applied]
    if pending:
        return Result("migrations", False, f"not applied: {', '.join(pending)} (herald migrate)")
    return Result("migrations", True, f"all {len(files)} applied")


async def redis_check(settings: Settings) -> Result:
    if not settings.redis_url:
        return Result(
            "redis", True, "not configured (REDIS_URL empty: `herald serve` runs its own)"
        )
    client = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
    )
    try:
        async with asyncio.timeout(REDIS_TIMEOUT):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return Result("redis", False, f"unreachable: {type(exc).__name__}")
    finally:
        await client.aclose()
    return Result("redis", True, "answers")


async def probe_check(settings: Settings) -> Result:
    """POST /send/0 with an empty JSON object, which sends nothing: the probe checks the token
    first, so 400 (bad body) means the token is accepted and 401/403 means it is not."""
    transport = AiohttpTransport(max_connections=1)
    headers = {
        "Authorization": f"Bearer {settings.probe_token.get()}",
        "Content-Type": "application/json",
    }
    url = f"{settings.probe_url.rstrip('/')}/send/0"
    try:
        raw = await transport.post(url, headers, b"{}", PROBE_TIMEOUT)
    except TimeoutError:
        return Result("probe", False, f"no answer within {PROBE_TIMEOUT:g} s")
    except TransportError as exc:
        return Result("probe", False, f"unreachable: {str(exc).split(':', 1)[0]}")
    finally:
        await transport.close()
    if raw.status in (401, 403):
        return Result("probe", False, f"token refused (HTTP {raw.status}): check PROBE_TOKEN")
    if raw.status in (400, 422):  # the body refused, after the token was accepted
        return Result("probe", True, f"answers, token accepted (HTTP {raw.status} to a no-op)")
    if raw.status == 404:
        return Result("probe", False, "no /send/{id} at PROBE_URL (HTTP 404)")
    return Result("probe", False, f"unexpected HTTP {raw.status} to a no-op request")


def _counts(side: dict[str, int]) -> str:
    return " ".join(f"{status}={n}" for status, n in sorted(side.items())) or "none"


def _describe(drift: list[Drift]) -> str:
    named = "; ".join(
        f"mailing {d.mailing_id}: kept {_counts(d.kept)}, messages {_counts(d.counted)}"
        for d in drift[:SHOWN]
    )
    more = f" and {len(drift) - SHOWN} more" if len(drift) > SHOWN else ""
    return named + more


async def counters(fix: bool) -> Result:
    drift = await counter_drift()
    if not drift:
        return Result("counters", True, "every mailing's counters equal its message rows")
    if not fix:
        return Result("counters", False, f"drifted: {_describe(drift)} (herald doctor --fix)")
    await recount([d.mailing_id for d in drift])
    left = await counter_drift()
    if left:
        return Result("counters", False, f"still drifted after recount: {_describe(left)}")
    ids = ", ".join(str(d.mailing_id) for d in drift)
    return Result("counters", True, f"recounted mailing(s) {ids}; all match now")


async def worker_check(settings: Settings, now: datetime) -> Result:
    age = await health.heartbeat_age(now)
    problem = health.worker_problem(age, settings.sweep_interval)
    if problem is not None:
        return Result("worker", False, problem)
    seconds = 0 if age is None else int(age.total_seconds())
    return Result("worker", True, f"heartbeat {seconds} s ago")


async def _bounded(name: str, check: Awaitable[Result], timeout: float) -> Result:  # noqa: ASYNC109
    try:
        async with asyncio.timeout(timeout):
            return await check
    except TimeoutError:
        return Result(name, False, f"no answer within {timeout:g} s")
    except Exception as exc:  # the check could not run: say how, in one line
        return Result(name, False, f"failed: {type(exc).__name__}")


async def run(
    settings: Settings, fix: bool, clock: Callable[[], datetime] = utc_now
) -> list[Result]:
    """Every check, in the order an operator would look; the database ones share a connection."""
    results = [
        await _bounded("redis", redis_check(settings), CHECK_TIMEOUT),
        await _bounded("probe", probe_check(settings), CHECK_TIMEOUT + 1),
    ]
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await db.connect(settings.database_url)
            await health.ping_database()
    except Exception as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
        await db.disconnect()
        return [Result("database", False, f"unreachable: {reason}"), *results]
    try:
        return [
            Result("database", True, "answers"),
            await _bounded("migrations", migrations(), CHECK_TIMEOUT),
            *results,
            await _bounded("counters", counters(fix), COUNT_TIMEOUT),
            await _bounded("worker", worker_check(settings, clock()), CHECK_TIMEOUT),
        ]
    finally:
        await db.disconnect()
