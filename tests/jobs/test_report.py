"""The daily report job against a real SMTP server (aiosmtpd) started by the test: sent once
whatever runs it (two workers, a retry, the CLI), sent later when the server was down at
first, STARTTLS with credentials and implicit TLS, a stop during a send, secrets never in a log
or a row. Time is the job's injected clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from herald.settings import Settings
from jobs.report import ReportService, Result
from jobs.report_mail import MAX_LISTED, listed, render_html, render_text
from jobs.smtp import SmtpMailer
from jobs.worker import DeliveryWorker
from models import report
from models.mailing import MailingState
from models.report_stats import DailyStats, MailingLine
from models.stats import Counts
from tests.support.cli import free_port
from tests.support.engine import wait_for
from tests.support.report import seed_day
from tests.support.smtp import SmtpServer, self_signed, server_context
from tools.redis_server import arq_settings

DAY = date(2026, 11, 21)
DUE = datetime(2026, 11, 22, 4, 0, 30, tzinfo=UTC)  # 07:00:30 in Moscow
PASSWORD = "pa55-w0rd-never-logged"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def report_settings(port: int, **more: str) -> Settings:
    return Settings.from_env(
        {
            "REPORT_RECIPIENTS": "ops@example.com, lead@example.com",
            "REPORT_FROM": "herald@example.com",
            "REPORT_TIME": "07:00",
            "REPORT_TIMEZONE": "Europe/Moscow",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "SMTP_SECURITY": "none",
            "SMTP_TIMEOUT": "5",
            **more,
        }
    )


def service(settings: Settings, clock: Clock, owner: str = "worker-a") -> ReportService:
    return ReportService(settings, SmtpMailer(settings), clock=clock, owner=owner)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


async def test_sent_once_and_reads_well(database: str, smtp: SmtpServer) -> None:
    ids = await seed_day()
    clock = Clock(DUE - timedelta(minutes=1))
    a = service(report_settings(smtp.port), clock)
    assert await a.tick() == []  # 06:59:30 in Moscow: the 21st is not due yet
    clock.now = DUE
    b = service(report_settings(smtp.port), clock, owner="worker-b")
    outcomes = await asyncio.gather(a.tick(), b.tick())  # two workers at the same minute
    assert sorted(o.result for run in outcomes for o in run) == [Result.SENT]
    for later in (timedelta(minutes=1), timedelta(hours=5)):  # the next runs, a restart
        clock.now = DUE + later
        assert await a.tick() == [] and await b.tick() == []
    assert (await a.send_now(DAY)).result == Result.ALREADY_SENT
    assert len(smtp.inbox.received) == 1

    mail = smtp.inbox.received[0]
    assert mail.recipients == ["ops@example.com", "lead@example.com"]
    message = mail.message
    assert message["Subject"] == "Herald daily report 2026-11-21: 2 mailings, 8 sent, 2 failed"
    assert message["Message-ID"] == "<herald-report-2026-11-21@example.com>"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    plain, page = text.get_content(), html.get_content()
    assert "Herald daily report for 2026-11-21 (Europe/Moscow)" in plain
    assert f"Mailing {ids['done']} (FINISHED): Black Friday: -30 % on everything see you" in plain
    assert "delivery rate 70.0 %" in plain and "delivery rate 75.0 %" in plain
    assert "that day: 7 sent, 2 failed, 4 attempts retried" in plain
    assert "5  HTTP 500" in plain and "1  timeout" in plain
    assert "<table" in page and "70.0 %" in page
    assert "&lt;b&gt;Evening&lt;/b&gt; &amp; night" in page and "<b>Evening" not in page
    row = await report.report_row(DAY)
    assert row is not None and row.phase == report.ReportPhase.SENT and row.sent_at == DUE


async def test_down_at_first_then_sent_later(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens yet
    clock = Clock(DUE)
    job = service(report_settings(port), clock)
    caplog.set_level(logging.INFO)
    [failed] = await job.tick()
    assert failed.result == Result.FAILED and failed.retry_at == DUE + timedelta(minutes=1)
    assert "not sent" in caplog.text
    server = SmtpServer(port).start()
    try:
        clock.now = DUE + timedelta(seconds=59)
        assert await job.tick() == []  # still backing off
        clock.now = DUE + timedelta(minutes=1)
        [sent] = await job.tick()
        assert sent.result == Result.SENT
        clock.now = DUE + timedelta(minutes=2)
        assert await job.tick() == []
        assert len(server.inbox.received) == 1
    finally:
        server.stop()
    row = await report.report_row(DAY)
    assert row is not None and row.attempts == 2 and row.phase == report.ReportPhase.SENT


async def test_starttls_with_credentials_and_no_secret_in_logs(
    database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = self_signed(tmp_path)
    server = SmtpServer(
        free_port(), starttls=server_context(cert, key), users={"herald": PASSWORD}
    ).start()
    caplog.set_level(logging.DEBUG)
    clock = Clock(DUE)
    try:
        wrong = report_settings(
            server.port,
            SMTP_SECURITY="starttls",
            SMTP_CA_FILE=str(cert),
            SMTP_USERNAME="herald",
            SMTP_PASSWORD=PASSWORD + "-wrong",
        )
        [failed] = await service(wrong, clock).tick()
        assert failed.result == Result.FAILED and "SMTPAuthenticationError" in failed.detail
        right = report_settings(
            server.port,
            SMTP_SECURITY="starttls",
            SMTP_CA_FILE=str(cert),
            SMTP_USERNAME="herald",
            SMTP_PASSWORD=PASSWORD,
        )
        assert PASSWORD not in repr(right)
        clock.now = DUE + timedelta(minutes=1)
        [sent] = await service(right, clock).tick()
        assert sent.result == Result.SENT
        assert [m.authenticated_as for m in server.inbox.received] == ["herald"]
    finally:
        server.stop()
    row = await report.report_row(DAY)
    assert row is not None and PASSWORD not in str(row.last_error)
    assert PASSWORD not in caplog.text


async def test_implicit_tls_and_an_untrusted_certificate(database: str, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = SmtpServer(free_port(), implicit_tls=server_context(cert, key)).start()
    clock = Clock(DUE)
    try:
        untrusted = report_settings(server.port, SMTP_SECURITY="tls")  # the system's CAs
        [failed] = await service(untrusted, clock).tick()
        assert failed.result == Result.FAILED and "certificate" in failed.detail.lower()
        trusted = report_settings(server.port, SMTP_SECURITY="tls", SMTP_CA_FILE=str(cert))
        clock.now = DUE + timedelta(minutes=1)
        [sent] = await service(trusted, clock).tick()
        assert sent.result == Result.SENT and len(server.inbox.received) == 1
    finally:
        server.stop()


async def test_a_stop_during_the_send_finishes_it_first(database: str, smtp: SmtpServer) -> None:
    smtp.inbox.hold = True
    job = service(report_settings(smtp.port), Clock(DUE))
    task = asyncio.create_task(job.tick())
    await asyncio.to_thread(smtp.inbox.at_data.wait, 10)
    task.cancel()  # the worker drains (or arq's timeout): the send goes on
    await asyncio.sleep(0)
    task.cancel()  # and again, as jobs/worker.py does while a task still runs
    smtp.inbox.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    row = await report.report_row(DAY)
    assert row is not None and row.phase == report.ReportPhase.SENT
    assert len(smtp.inbox.received) == 1


async def test_the_worker_runs_it_only_when_configured(database: str, redis_url: str) -> None:
    settings = report_settings(1)
    kinds = []
    for job in (None, service(settings, Clock(DUE))):
        worker = DeliveryWorker(
            settings, arq_settings(redis_url), clock=Clock(DUE), publish=_no_publish, report=job
        )
        kinds.append(sorted(c.name.rsplit(":", 1)[-1] for c in worker._arq_worker().cron_jobs))
        await worker.redis.aclose()
        await worker.probe.close()
    assert kinds == [["sweep"], ["report", "sweep"]]


async def test_two_workers_send_it_once_through_arq(
    database: str, redis_url: str, queue: str, redis: ArqRedis, smtp: SmtpServer
) -> None:
    """The real path: two delivery workers on one Redis run the report cron at start-up."""
    await seed_day()
    settings = report_settings(smtp.port, QUEUE_NAME=queue)
    workers = [
        DeliveryWorker(
            settings,
            arq_settings(redis_url),
            clock=Clock(DUE),
            publish=_no_publish,
            report=service(settings, Clock(DUE), owner=f"worker-{n}"),
        )
        for n in range(2)
    ]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:

        async def sent() -> bool:
            row = await report.report_row(DAY)
            return row is not None and row.phase == report.ReportPhase.SENT

        await wait_for(sent, what="the report's row SENT")
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.gather(*tasks)
    assert len(smtp.inbox.received) == 1
    row = await report.report_row(DAY)
    assert row is not None and row.attempts == 1


async def _no_publish(*_: object) -> None:
    return None


def test_a_busy_day_lists_the_busiest_mailings_and_counts_every_one() -> None:
    lines = [
        MailingLine(n, f"mailing {n}", MailingState.FINISHED, Counts.empty(), sent_in_day=n)
        for n in range(1, MAX_LISTED + 11)
    ]
    stats = DailyStats(DAY, "UTC", DUE, DUE, DUE, lines)
    shown, hidden = listed(stats)
    assert [m.mailing_id for m in shown] == list(range(11, MAX_LISTED + 11)) and hidden == 10
    text, page = render_text(stats), render_html(stats)
    assert "Mailing 10 (" not in text and f"Mailing {MAX_LISTED + 10} (" in text
    assert "… and 10 more mailings" in text and "… and 10 more mailings" in page
    assert f"TOTAL over {MAX_LISTED + 10} mailings" in text
