"""Worker heartbeats: each delivery worker upserts its row every few seconds, so readiness and
`herald doctor` can tell whether anything is sending. They live in the database, not in Redis:
the database is the source of truth and a worker keeps sending while Redis is away."""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise import fields
from tortoise.models import Model

from models.sql import fetch

PING = "SELECT 1 AS one"
APPLIED_MIGRATIONS = "SELECT name FROM tortoise_migrations WHERE app = 'models'"

MIN_FRESH = timedelta(seconds=15)
PURGE_AFTER = timedelta(hours=1)  # rows of workers gone this long are deleted


class WorkerHeartbeat(Model):
    id = fields.IntField(primary_key=True)
    worker_id = fields.CharField(max_length=64, unique=True)
    host = fields.CharField(max_length=255)
    pid = fields.IntField()
    seen_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "worker_heartbeat"


def fresh_within(sweep_interval: float) -> timedelta:
    """How recent a heartbeat must be to count: three sweep intervals (a worker beats once
    per interval, so one or two late beats under load are tolerated), and never under 15 s."""
    return max(timedelta(seconds=3 * sweep_interval), MIN_FRESH)


async def beat(worker_id: str, host: str, pid: int, now: datetime) -> None:
    """Record that `worker_id` is alive at `now`: one UPDATE, except on a worker's first beat,
    which inserts its row and purges rows of workers not seen for PURGE_AFTER (a crashed
    worker never removes its own)."""
    # Only this worker writes its row, so update-else-insert cannot race.
    if await WorkerHeartbeat.filter(worker_id=worker_id).update(seen_at=now):
        return
    await WorkerHeartbeat.create(worker_id=worker_id, host=host[:255], pid=pid, seen_at=now)
    await WorkerHeartbeat.filter(seen_at__lt=now - PURGE_AFTER).delete()


async def forget(worker_id: str) -> None:
    """A worker that stops cleanly removes its row: readiness then reflects it at once."""
    await WorkerHeartbeat.filter(worker_id=worker_id).delete()


async def heartbeat_age(now: datetime) -> timedelta | None:
    """Age of the freshest heartbeat of any worker, or None if no worker ever beat (or all
    were purged)."""
    newest = WorkerHeartbeat.all().order_by("-seen_at").limit(1)
    latest: list[datetime] = await newest.values_list("seen_at", flat=True)  # type: ignore[assignment]
    return now - latest[0] if latest else None


def worker_problem(age: timedelta | None, sweep_interval: float) -> str | None:
    """None when a worker beat recently enough, else what an operator should read."""
    if age is None:
        return "no worker heartbeat"
    if age > fresh_within(sweep_interval):
        return f"no heartbeat for {int(age.total_seconds())} s"
    return None


async def ping_database() -> None:
    """One round trip to the database (readiness: it answers, whatever it holds)."""
    await fetch(PING)


async def applied_migrations() -> set[str]:
    """The migrations tortoise recorded as applied (none if it never migrated here)."""
    try:
        rows = await fetch(APPLIED_MIGRATIONS)
    except Exception as exc:
        if "tortoise_migrations" not in str(exc):
            raise
        return set()  # never migrated: the table does not exist yet
    return {str(r["name"]) for r in rows}
