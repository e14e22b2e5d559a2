"""What the daily report's tests share: a day of mailings to report on (2026-11-21 in Moscow),
and `herald report` run as a process with the report settings."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from models.attempts import ErrorClass, MessageAttempt
from models.mailing import Mailing, MailingState
from models.message import Message, MessageStatus


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def seed_day() -> dict[str, int]:
    """Mailings around 2026-11-21 in Moscow (UTC+3: the day is 20T21:00Z to 21T21:00Z)."""
    done = await Mailing.create(
        text="Black Friday: -30 % on everything\nsee you",
        start_at=at("2026-11-21T06:00:00Z"),
        end_at=at("2026-11-21T12:00:00Z"),
        started_at=at("2026-11-21T06:00:00Z"),
        finished_at=at("2026-11-21T10:00:00Z"),
        state=MailingState.FINISHED,
    )
    earlier = await Mailing.create(
        text="last week",
        start_at=at("2026-11-19T06:00:00Z"),
        end_at=at("2026-11-19T12:00:00Z"),
        started_at=at("2026-11-19T06:00:00Z"),
        finished_at=at("2026-11-20T20:59:59Z"),
        state=MailingState.FINISHED,
    )
    running = await Mailing.create(
        text="<b>Evening</b> & night",
        start_at=at("2026-11-21T20:00:00Z"),
        end_at=at("2026-11-23T20:00:00Z"),
        started_at=at("2026-11-21T20:00:00Z"),
        state=MailingState.RUNNING,
    )
    await Mailing.create(
        text="not yet",
        start_at=at("2026-11-30T20:00:00Z"),
        end_at=at("2026-12-01T20:00:00Z"),
        state=MailingState.SCHEDULED,
    )
    phone = iter(range(79160000000, 79170000000))

    async def messages(
        mailing: Mailing, status: MessageStatus, n: int, sent: str | None
    ) -> list[Message]:
        return [
            await Message.create(
                mailing=mailing,
                phone=str(next(phone)),
                timezone="Europe/Moscow",
                status=status,
                sent_at=at(sent) if sent else None,
            )
            for _ in range(n)
        ]

    await messages(done, MessageStatus.SENT, 7, "2026-11-21T07:00:00Z")
    failed = await messages(done, MessageStatus.FAILED, 2, None)
    await messages(done, MessageStatus.EXPIRED, 1, None)
    await messages(earlier, MessageStatus.SENT, 3, "2026-11-19T07:00:00Z")
    await messages(running, MessageStatus.PENDING, 2, None)
    await messages(running, MessageStatus.SENT, 1, "2026-11-21T20:30:00Z")
    await messages(running, MessageStatus.SENT, 1, "2026-11-21T21:00:00Z")  # the next local day

    async def attempt(message: Message, error: str, outcome: MessageStatus, when: str) -> None:
        await MessageAttempt.create(
            message_id=message.id,
            mailing_id=message.mailing_id,  # type: ignore[attr-defined]
            attempt=1,
            at=at(when),
            error_class=ErrorClass.TRANSIENT,
            error=error,
            outcome=outcome,
        )

    for message in failed:
        await attempt(message, "HTTP 500", MessageStatus.RETRYING, "2026-11-21T07:00:00Z")
        await attempt(
            message, "HTTP 500 (attempts exhausted)", MessageStatus.FAILED, "2026-11-21T08:00:00Z"
        )
    await attempt(failed[0], "HTTP 500", MessageStatus.RETRYING, "2026-11-21T07:30:00Z")
    await attempt(failed[0], "timeout", MessageStatus.RETRYING, "2026-11-21T07:40:00Z")
    await attempt(
        failed[1], "timeout", MessageStatus.RETRYING, "2026-11-20T20:00:00Z"
    )  # day before
    return {"done": done.id, "running": running.id, "earlier": earlier.id}


def report_env(tmp_path: Path, database_url: str, port: int) -> dict[str, str]:
    """The environment of a `herald report` process: this test's database, a local SMTP
    server on `port`, Moscow's days."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "API_ADMIN_TOKEN", "REDIS_URL", "PROBE_URL")
        and not k.startswith(("REPORT_", "SMTP_"))
    }
    return {
        **base,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "REPORT_RECIPIENTS": "ops@example.com",
        "REPORT_TIMEZONE": "Europe/Moscow",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": "none",
        "SMTP_TIMEOUT": "5",
    }
