"""`herald report` as a real process: it prints a day's report, sends it once to a real SMTP
server (a second --send says it was sent and sends nothing), and refuses bad input in one line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from models import report
from tests.support.cli import free_port, herald, ok, refused
from tests.support.report import report_env, seed_day
from tests.support.smtp import SmtpServer


async def test_print_then_send_once(database: str, tmp_path: Path) -> None:
    ids = await seed_day()
    server = SmtpServer(free_port()).start()
    try:
        env = report_env(tmp_path, database, server.port)
        printed = ok("report", "--date", "2026-11-21", env=env)
        assert printed.startswith("Herald daily report for 2026-11-21 (Europe/Moscow)\n")
        assert f"Mailing {ids['done']} (FINISHED)" in printed and "delivery rate 70.0 %" in printed
        whole = ok("report", "--date", "2026-11-21", "--email", env=env)
        assert "Content-Type: text/html" in whole and "Subject: Herald daily report" in whole
        assert server.inbox.received == []  # printing sends nothing
        assert await report.report_row(date(2026, 11, 21)) is None  # and claims nothing
        sent = ok("report", "--date", "2026-11-21", "--send", env=env)
        assert sent == "report 2026-11-21: sent to ops@example.com\n"
        again = ok("report", "--date", "2026-11-21", "--send", env=env)
        assert again.startswith("report 2026-11-21: already sent at ")
        assert len(server.inbox.received) == 1
    finally:
        server.stop()


async def test_refusals(database: str, tmp_path: Path) -> None:
    port = free_port()  # nothing listens
    env = report_env(tmp_path, database, port)
    assert refused("report", "--date", "21.11.2026", env=env) == (
        "herald: invalid option --date: expected a date YYYY-MM-DD, not '21.11.2026'"
    )
    down = herald("report", "--date", "2026-11-21", "--send", env=env)
    assert down.returncode == 1 and down.stdout == ""
    assert down.stderr.startswith("herald: report 2026-11-21 not sent (SMTPConnectError: ")
    assert "; the worker retries at " in down.stderr and len(down.stderr.splitlines()) == 1
    env.pop("REPORT_RECIPIENTS")
    assert refused("report", "--send", env=env) == (
        "herald: invalid setting REPORT_RECIPIENTS: --send needs at least one recipient"
    )
    env["REPORT_TIMEZONE"] = "Mars/Olympus"
    assert refused("report", env=env) == (
        "herald: invalid setting REPORT_TIMEZONE: expected an IANA time zone like Europe/Moscow"
    )
