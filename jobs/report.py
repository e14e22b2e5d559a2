"""The daily report job: every minute (an arq cron job of the worker) it makes sure the latest
due day has its row, then claims every report that is due (new, or failed earlier and past its
backoff) and sends it. `herald report --date D --send` goes through the same claim, so the
on-demand send and the cron job never both send a day. What a report holds and the claim rule
are in models/report.py and models/report_stats.py; the e-mail in jobs/report_mail.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from jobs.report_mail import build_message
from jobs.smtp import Mailer, MailFailure, SmtpSettings
from models import report
from models.report_stats import DailyStats, daily_stats

log = logging.getLogger("herald.report")
T = TypeVar("T")
MAX_PER_TICK = 5  # reports sent by one run of the cron job (a backlog drains over a few runs)


class ReportSettings(SmtpSettings, Protocol):
    @property
    def report_recipients(self) -> tuple[str, ...]: ...
    @property
    def report_time(self) -> time: ...
    @property
    def report_timezone(self) -> str: ...
    @property
    def report_from(self) -> str: ...


class Result(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # not accepted: due again at `retry_at`
    ALREADY_SENT = "already sent"
    BUSY = "busy"  # another process holds it right now (its lease is live)


@dataclass(frozen=True)
class Outcome:
    day: date
    result: Result
    detail: str = ""
    retry_at: datetime | None = None


@dataclass
class ReportService:
    """What the cron job and the CLI share; the composition root builds it with the settings,
    the SMTP mailer, the clock and an owner id for leases."""

    settings: ReportSettings
    mailer: Mailer
    clock: Callable[[], datetime]
    owner: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.report_timezone)

    @property
    def schedule(self) -> report.Schedule:
        return report.Schedule(self.settings.report_time, self.zone)

    @property
    def lease(self) -> timedelta:
        """Longer than the longest a send may take (jobs/smtp.py bounds it at 3 timeouts)."""
        return timedelta(seconds=self.settings.smtp_timeout * 3 + 60)

    async def stats(self, day: date) -> DailyStats:
        return await daily_stats(day, self.zone, self.clock())

    async def tick(self) -> list[Outcome]:
        """The cron job's work: the due day's row, then every claimable report, oldest first."""
        now = self.clock()
        await report.ensure_rows(now, self.schedule)
        outcomes = []
        for day in await report.due_days(now, MAX_PER_TICK):
            if await report.claim(day, self.owner, now, self.lease):
                outcomes.append(await _to_the_end(self._send(day)))
        return outcomes

    async def send_now(self, day: date) -> Outcome:
        """`herald report --date D --send`: send it now unless it was sent or is being sent;
        a failure leaves it to the worker's retries like any other."""
        now = self.clock()
        await report.ensure_row(day, now)
        if await report.claim(day, self.owner, now, self.lease, on_demand=True):
            return await _to_the_end(self._send(day))
        row = await report.report_row(day)
        if row is not None and row.phase == report.ReportPhase.SENT:
            assert row.sent_at is not None
            return Outcome(day, Result.ALREADY_SENT, f"at {row.sent_at.isoformat()}")
        return Outcome(day, Result.BUSY, "another process is sending it")

    async def _send(self, day: date) -> Outcome:
        """Send a claimed report and record the result under the claim's lease."""
        recipients = self.settings.report_recipients
        message = build_message(await self.stats(day), self.settings.report_from, recipients)
        try:
            await self.mailer(message)
        except MailFailure as exc:
            retry_at = await report.mark_failed(day, self.owner, self.clock(), str(exc))
            log.warning(
                "daily report %s not sent (%s); retrying at %s",
                day,
                exc,
                retry_at.isoformat() if retry_at else "the lease's end",
            )
            return Outcome(day, Result.FAILED, str(exc), retry_at)
        if not await report.mark_sent(day, self.owner, self.clock()):
            log.warning("daily report %s sent after its lease ran out", day)
        log.info("daily report %s sent to %d recipients", day, len(recipients))
        return Outcome(day, Result.SENT, f"to {', '.join(recipients)}")


async def _to_the_end(work: Awaitable[T]) -> T:
    """Finish a send once it began, even when the job is cancelled meanwhile (a worker's drain,
    arq's timeout): cut in the middle, nobody would know whether the server took the message,
    and the report would go out twice. The send is bounded (jobs/smtp.py), so this is too; the
    cancellation is passed on once the outcome is recorded."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


async def report_job(ctx: dict[str, Any]) -> None:
    """The arq cron job (registered by jobs/worker.py when reports are configured)."""
    service: ReportService = ctx["report"]
    await service.tick()
