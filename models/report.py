"""The daily report's schedule and its exactly-once rule: one `daily_report` row per local day,
claimed by compare-and-set before anything is sent, so a restart, an arq retry or two workers
never send a day twice, and an SMTP failure leaves the row due again later instead of lost.

The one window left is the one every mail sender has: a process killed (SIGKILL, power) after
the SMTP server accepted the message and before the row says SENT. The row's lease then runs
out and the report is sent again, with the same Message-ID, which mail servers and clients use
to recognise the repeat. A graceful stop finishes the send in flight first (jobs/report.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.models import Model

MAX_ERROR = 300
RETRY_FIRST = timedelta(minutes=1)  # the first retry after an SMTP failure
RETRY_CAP = timedelta(hours=1)  # never longer between two tries: the report is never dropped


class ReportPhase(StrEnum):
    PENDING = "PENDING"  # due (at next_attempt_at), not sent yet
    SENDING = "SENDING"  # claimed by `lease_owner` until `lease_until`
    SENT = "SENT"


class DailyReport(Model):
    id = fields.IntField(primary_key=True)
    day = fields.DateField(unique=True)  # the local day (REPORT_TIMEZONE) the report covers
    phase = fields.CharEnumField(ReportPhase, max_length=10, default=ReportPhase.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=MAX_ERROR, null=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "daily_report"
        indexes = (("phase", "next_attempt_at"),)


@dataclass(frozen=True)
class Schedule:
    """When a day's report is due: `at` local time in `zone`, the day after the day it covers."""

    at: time
    zone: ZoneInfo


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local day in UTC: 23 or 25 hours on a DST change day. Midnight that
    does not exist (a zone that springs forward at 00:00) maps to the first instant after."""
    return _instant(day, time(0), zone), _instant(day + timedelta(days=1), time(0), zone)


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant. In a spring-forward gap (02:30 that never
    happens) zoneinfo reads the time with the offset before the gap, which is the instant as
    far after the gap's start (03:30 new time): a report set inside the gap still goes out
    that day. In a fall-back repeat (01:30 twice) it is the first one."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def due_at(day: date, schedule: Schedule) -> datetime:
    """When the report of `day` becomes due: the schedule's time on the following day."""
    return _instant(day + timedelta(days=1), schedule.at, schedule.zone)


def due_day(now: datetime, schedule: Schedule) -> date:
    """The latest local day whose report is due at `now`: yesterday once today's report time
    has passed, else the day before yesterday (a worker that was down at report time sends
    it when it comes back, within the day)."""
    today = now.astimezone(schedule.zone).date()
    yesterday = today - timedelta(days=1)
    return yesterday if now >= due_at(yesterday, schedule) else yesterday - timedelta(days=1)


MAX_CATCH_UP = 7  # days a worker that was away makes up for, newest first


def days_to_create(now: datetime, schedule: Schedule, last_day: date | None) -> list[date]:
    """The days that need a row at `now`, given the latest day that has one. A fresh install
    starts with yesterday once today's report time has passed (never an old day at once); after
    that every day gets its row, so a worker away at report time, or for a few days, makes
    them up when it is back (the last MAX_CATCH_UP days at most)."""
    latest = due_day(now, schedule)
    if last_day is None:
        today = now.astimezone(schedule.zone).date()
        return [latest] if latest == today - timedelta(days=1) else []
    first = max(last_day + timedelta(days=1), latest - timedelta(days=MAX_CATCH_UP - 1))
    return [first + timedelta(days=n) for n in range((latest - first).days + 1)]


def retry_delay(attempts: int) -> timedelta:
    """After the n-th failed try: 1, 2, 4 … minutes, at most an hour, never giving up."""
    delay: timedelta = RETRY_FIRST * 2 ** max(0, min(attempts - 1, 20))
    return min(RETRY_CAP, delay)


async def ensure_rows(now: datetime, schedule: Schedule) -> None:
    """Every day due at `now` has its row (days_to_create)."""
    newest = DailyReport.all().order_by("-day").limit(1)
    last: list[date] = await newest.values_list("day", flat=True)  # type: ignore[assignment]
    for day in days_to_create(now, schedule, last[0] if last else None):
        await ensure_row(day, now)


async def ensure_row(day: date, now: datetime) -> None:
    """The day's row, due now, unless one exists (unique day: a concurrent insert loses)."""
    if await DailyReport.exists(day=day):
        return
    try:
        await DailyReport.create(day=day, next_attempt_at=now, created_at=now)
    except IntegrityError:
        pass  # another worker created it first: the row is what matters


async def due_days(now: datetime, limit: int = 10) -> list[date]:
    """Days whose report may be claimed now: due PENDING rows and SENDING rows whose lease ran
    out (their sender died), oldest day first."""
    rows = (
        DailyReport.filter(_claimable(now))
        .order_by("day")
        .limit(limit)
        .values_list("day", flat=True)
    )
    days: list[date] = await rows  # type: ignore[assignment]
    return days


def _claimable(now: datetime) -> Q:
    return Q(phase=ReportPhase.PENDING, next_attempt_at__lte=now) | Q(
        phase=ReportPhase.SENDING, lease_until__lt=now
    )


async def claim(
    day: date, owner: str, now: datetime, lease: timedelta, *, on_demand: bool = False
) -> bool:
    """Take the day's report for `owner` until now + lease: one compare-and-set UPDATE, so of
    two workers (or a worker and `herald report --send`) exactly one wins. `on_demand` (the
    CLI) also takes a PENDING report whose retry time has not come yet."""
    claimable = _claimable(now)
    if on_demand:
        claimable |= Q(phase=ReportPhase.PENDING)
    updated = await DailyReport.filter(claimable, day=day).update(
        phase=ReportPhase.SENDING,
        lease_owner=owner,
        lease_until=now + lease,
        attempts=F("attempts") + 1,
    )
    return bool(updated)


async def mark_sent(day: date, owner: str, now: datetime) -> bool:
    """SENT, if `owner` still holds the lease (False: it ran out and another took it)."""
    updated = await DailyReport.filter(
        day=day, phase=ReportPhase.SENDING, lease_owner=owner
    ).update(phase=ReportPhase.SENT, sent_at=now, lease_owner=None, lease_until=None)
    return bool(updated)


async def mark_failed(day: date, owner: str, now: datetime, error: str) -> datetime | None:
    """Due again after the backoff of its attempts so far; the error kept (never a secret: it
    is the SMTP failure's class and the server's reply). The retry time, or None when `owner`
    no longer held the lease."""
    row = await DailyReport.get_or_none(day=day, phase=ReportPhase.SENDING, lease_owner=owner)
    if row is None:
        return None
    retry_at = now + retry_delay(row.attempts)
    updated = await DailyReport.filter(
        day=day, phase=ReportPhase.SENDING, lease_owner=owner
    ).update(
        phase=ReportPhase.PENDING,
        next_attempt_at=retry_at,
        last_error=error.replace("\x00", "")[:MAX_ERROR],
        lease_owner=None,
        lease_until=None,
    )
    return retry_at if updated else None


async def report_row(day: date) -> DailyReport | None:
    return await DailyReport.get_or_none(day=day)
