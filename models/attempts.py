"""Attempt history: one row per probe attempt that did not succeed (time, HTTP status, latency,
error class, message, and what it made of the message). A success writes nothing, so a healthy
delivery costs no extra row; the rows are written in the same transaction as the outcome batch
they belong to (models/delivery.py `record`), and deleted with their mailing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.errors import InvalidInput
from models.sql import fetch
from models.states import MessageStatus

MAX_HISTORY = 50  # attempts per message one request may read
DEFAULT_HISTORY = 10


class ErrorClass(StrEnum):
    """Why an attempt failed, as the send loop classifies the probe's answer."""

    TRANSIENT = "transient"  # an HTTP answer worth retrying: 5xx, 429, a 200 with a bad body
    TIMEOUT = "timeout"  # no answer in time, or no connection
    REJECTED = "rejected"  # 400/404/422: this message will never be accepted
    UNAUTHORIZED = "unauthorized"  # 401/403: the probe refused our token (the circuit opens)
    ERROR = "error"  # a bug of ours while sending


class MessageAttempt(Model):
    """Plain id columns, no FK constraints, as on `message` (models/message.py says why)."""

    id = fields.BigIntField(primary_key=True)
    message_id = fields.BigIntField(db_index=True)
    mailing_id = fields.IntField()
    attempt = fields.IntField()  # the message's attempt number when it was claimed
    at = fields.DatetimeField()  # when the answer (or the timeout) came
    http_status = fields.IntField(null=True)  # None: no HTTP answer
    latency_ms = fields.FloatField(null=True)
    error_class = fields.CharEnumField(ErrorClass, max_length=12)
    error = fields.CharField(max_length=300, null=True)
    outcome = fields.CharEnumField(MessageStatus, max_length=10)  # RETRYING, FAILED or PENDING

    class Meta:
        table = "message_attempt"
        indexes = (("mailing_id", "at"),)


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """What the send loop knows about one failed probe call."""

    number: int
    at: datetime
    error_class: ErrorClass
    http_status: int | None = None
    latency: float | None = None  # seconds


def attempt_fields(attempt: Attempt) -> dict[str, Any]:
    """The attempt's keys in an outcome's JSON row (models/delivery.py RECORD_ATTEMPTS)."""
    return {
        "attempt": attempt.number,
        "at": attempt.at.astimezone(UTC),
        "http": attempt.http_status,
        "ms": None if attempt.latency is None else round(attempt.latency * 1000, 3),
        "cls": attempt.error_class.value,
    }


def history_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_HISTORY
    if first < 0:
        raise InvalidInput("first must not be negative", field="first")
    return min(first, MAX_HISTORY)


# The newest `first` attempts of each message, in one query for a request's messages.
HISTORY_OF_MESSAGES = (
    "SELECT message_id, attempt, at, http_status, latency_ms, error_class, error, outcome"
    " FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY message_id ORDER BY id DESC) AS nth"
    " FROM message_attempt WHERE message_id IN (:ids)) AS h WHERE nth <= :first"
    " ORDER BY message_id, id DESC"
)


@dataclass(frozen=True)
class AttemptRecord:
    """One row of a message's history, as read back."""

    attempt: int
    at: datetime
    http_status: int | None
    latency_ms: float | None
    error_class: ErrorClass
    error: str | None
    outcome: MessageStatus


def _instant(value: datetime | str) -> datetime:
    """A raw query's time: asyncpg gives datetimes, SQLite the text tortoise stored."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC)


def _record(row: dict[str, Any]) -> AttemptRecord:
    latency = row["latency_ms"]
    return AttemptRecord(
        attempt=int(row["attempt"]),
        at=_instant(row["at"]),
        http_status=None if row["http_status"] is None else int(row["http_status"]),
        latency_ms=None if latency is None else float(latency),
        error_class=ErrorClass(row["error_class"]),
        error=row["error"],
        outcome=MessageStatus(row["outcome"]),
    )


async def histories(message_ids: Sequence[int], first: int) -> dict[int, list[AttemptRecord]]:
    """Newest first, at most `first` per message; messages without failures map to []."""
    result: dict[int, list[AttemptRecord]] = {mid: [] for mid in message_ids}
    if not message_ids or first <= 0:
        return result
    for row in await fetch(HISTORY_OF_MESSAGES, ids=list(message_ids), first=first):
        result[int(row["message_id"])].append(_record(row))
    return result
