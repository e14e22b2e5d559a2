"""The daily report's schedule (DST days included), its exactly-once claim and what it says
about a day, on a real database with migrations applied."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import report
from models.mailing import MailingState
from models.message import MessageStatus
from models.report_stats import daily_stats
from tests.support.report import at, seed_day

BERLIN, MOSCOW, UTC_ZONE = ZoneInfo("Europe/Berlin"), ZoneInfo("Europe/Moscow"), ZoneInfo("UTC")


DUE_CASES = [
    # (now, report time, zone, the latest day due)
    ("2026-11-22T06:59:59+03:00", time(7), MOSCOW, date(2026, 11, 20)),
    ("2026-11-22T07:00:00+03:00", time(7), MOSCOW, date(2026, 11, 21)),
    ("2026-11-22T00:10:00+00:00", time(0, 5), UTC_ZONE, date(2026, 11, 21)),
    # Berlin springs forward on 2026-03-29 at 02:00: a report set at 02:30 goes out at 03:30.
    ("2026-03-29T03:29:00+02:00", time(2, 30), BERLIN, date(2026, 3, 27)),
    ("2026-03-29T03:30:00+02:00", time(2, 30), BERLIN, date(2026, 3, 28)),
    # and falls back on 2026-10-25 at 03:00: 02:30 happens twice, the first one counts.
    ("2026-10-25T02:29:00+02:00", time(2, 30), BERLIN, date(2026, 10, 23)),
    ("2026-10-25T02:30:00+02:00", time(2, 30), BERLIN, date(2026, 10, 24)),
    ("2026-10-25T02:30:00+01:00", time(2, 30), BERLIN, date(2026, 10, 24)),
]


@pytest.mark.parametrize("now,at_time,zone,expected", DUE_CASES)
def test_due_day(now: str, at_time: time, zone: ZoneInfo, expected: date) -> None:
    assert report.due_day(at(now), report.Schedule(at_time, zone)) == expected


@pytest.mark.parametrize(
    "day,zone,hours",
    [
        (date(2026, 3, 29), BERLIN, 23),
        (date(2026, 10, 25), BERLIN, 25),
        (date(2026, 11, 21), MOSCOW, 24),
    ],
)
def test_a_local_day_has_the_hours_it_has(day: date, zone: ZoneInfo, hours: int) -> None:
    since, until = report.local_day_bounds(day, zone)
    assert until - since == timedelta(hours=hours)
    assert since.astimezone(zone).replace(tzinfo=None) == datetime.combine(day, time(0))


CATCH_UP = [
    # (now in Moscow, the latest day with a row, the days that get one)
    ("2026-11-22T06:00:00+03:00", None, []),  # a fresh install before report time: nothing
    ("2026-11-22T07:00:00+03:00", None, [date(2026, 11, 21)]),
    ("2026-11-22T06:00:00+03:00", date(2026, 11, 20), []),
    ("2026-11-22T07:00:00+03:00", date(2026, 11, 21), []),
    # away at 07:00 on the 22nd, back at 06:00 on the 23rd: the 21st is made up
    ("2026-11-23T06:00:00+03:00", date(2026, 11, 20), [date(2026, 11, 21)]),
    ("2026-11-24T08:00:00+03:00", date(2026, 11, 20), [date(2026, 11, d) for d in (21, 22, 23)]),
    ("2026-12-30T08:00:00+03:00", date(2026, 11, 20), [date(2026, 12, d) for d in range(23, 30)]),
]


@pytest.mark.parametrize("now,last,expected", CATCH_UP)
def test_days_to_create(now: str, last: date | None, expected: list[date]) -> None:
    schedule = report.Schedule(time(7), MOSCOW)
    assert report.days_to_create(at(now), schedule, last) == expected


def test_retry_backoff_doubles_to_an_hour() -> None:
    delays = [report.retry_delay(n) for n in (1, 2, 3, 7, 8, 100)]
    assert delays == [timedelta(minutes=m) for m in (1, 2, 4, 60, 60, 60)]


NOW = at("2026-11-22T07:00:30+03:00")
DAY = date(2026, 11, 21)
LEASE = timedelta(minutes=2)


async def test_one_claim_wins(database: str) -> None:
    await report.ensure_row(DAY, NOW)
    await report.ensure_row(DAY, NOW)  # a second worker, a restart: still one row
    assert await report.DailyReport.filter(day=DAY).count() == 1
    assert await report.due_days(NOW) == [DAY]
    assert await report.claim(DAY, "a", NOW, LEASE)
    assert not await report.claim(DAY, "b", NOW, LEASE)
    assert not await report.claim(DAY, "b", NOW, LEASE, on_demand=True)  # its lease is live
    assert await report.due_days(NOW) == []
    # a's process died: once its lease ran out, b takes it over (and b's send counts)
    later = NOW + LEASE + timedelta(seconds=1)
    assert await report.due_days(later) == [DAY]
    assert await report.claim(DAY, "b", later, LEASE)
    assert not await report.mark_sent(DAY, "a", later)  # a's late answer changes nothing
    assert await report.mark_sent(DAY, "b", later)
    row = await report.report_row(DAY)
    assert row is not None and row.phase == report.ReportPhase.SENT and row.attempts == 2
    assert not await report.claim(DAY, "c", later + timedelta(days=1), LEASE, on_demand=True)


async def test_a_failure_is_due_again_after_its_backoff(database: str) -> None:
    await report.ensure_row(DAY, NOW)
    assert await report.claim(DAY, "a", NOW, LEASE)
    retry_at = await report.mark_failed(DAY, "a", NOW, "SMTPConnectError: refused\x00")
    assert retry_at == NOW + timedelta(minutes=1)
    row = await report.report_row(DAY)
    assert row is not None and row.phase == report.ReportPhase.PENDING
    assert row.last_error == "SMTPConnectError: refused"
    assert await report.due_days(NOW + timedelta(seconds=59)) == []
    assert not await report.claim(DAY, "a", NOW + timedelta(seconds=59), LEASE)
    # the CLI may try at once
    assert await report.claim(DAY, "cli", NOW + timedelta(seconds=59), LEASE, on_demand=True)
    second = await report.mark_failed(DAY, "cli", NOW + timedelta(seconds=60), "again")
    assert second == NOW + timedelta(seconds=60) + timedelta(minutes=2)


async def test_what_the_day_says(database: str) -> None:
    ids = await seed_day()
    stats = await daily_stats(DAY, MOSCOW, NOW)
    assert [m.mailing_id for m in stats.mailings] == [ids["done"], ids["running"]]
    done, running = stats.mailings
    assert done.counts.by_status[MessageStatus.SENT] == 7
    assert done.counts.by_status[MessageStatus.FAILED] == 2
    assert done.counts.total == 10
    assert done.delivery_rate == pytest.approx(0.7)
    assert (done.sent_in_day, done.failed_in_day, done.retried_in_day) == (7, 2, 4)
    assert done.errors == (("HTTP 500", 5), ("timeout", 1))
    assert running.state == MailingState.RUNNING
    assert (running.sent_in_day, running.counts.total, running.delivery_rate) == (1, 4, 1.0)
    totals = stats.totals
    assert totals.counts.by_status[MessageStatus.SENT] == 9
    assert totals.delivery_rate == pytest.approx(9 / 12)
    assert (totals.sent_in_day, totals.failed_in_day) == (8, 2)
    assert totals.errors[0] == ("HTTP 500", 5)
    assert (stats.since, stats.until) == (at("2026-11-20T21:00:00Z"), at("2026-11-21T21:00:00Z"))


async def test_a_quiet_day(database: str) -> None:
    stats = await daily_stats(DAY, MOSCOW, NOW)
    assert stats.mailings == [] and stats.totals.delivery_rate is None
