"""A message's failed attempt (Message.history) and a mailing's delivery per time bucket
(Mailing.timeline): plain values, built from the domain's records."""

from __future__ import annotations

import strawberry

from gql.scalars import DateTime
from gql.types.enums import ErrorClassEnum, MessageStatusEnum
from models.attempts import AttemptRecord
from models.timeline import Point


@strawberry.type(
    name="MessageAttempt",
    description="A probe attempt that did not succeed. A success writes no row: a message"
    " sent at its first attempt has an empty history.",
)
class AttemptType:
    attempt: int = strawberry.field(description="The message's attempt number (1 for the first).")
    at: DateTime = strawberry.field(description="When the answer (or the timeout) came, UTC.")
    http_status: int | None = strawberry.field(
        description="The probe's HTTP status; null when it gave no answer."
    )
    latency_ms: float | None = strawberry.field(
        description="Milliseconds from the request's start to the answer or the timeout;"
        " null when nothing was sent (an error inside Herald)."
    )
    error_class: ErrorClassEnum = strawberry.field(description="Why it failed.")
    error: str | None = strawberry.field(
        description='What went wrong, e.g. "HTTP 503", "timeout", "bad body: code=1" (at most'
        ' 300 characters); "(attempts exhausted)" marks the last one of a FAILED message.'
    )
    outcome: MessageStatusEnum = strawberry.field(
        description="The status the attempt left the message in: RETRYING (tried again after"
        " backoff), FAILED (rejected, or attempts exhausted) or PENDING (401/403: the attempt"
        " was given back while the circuit is open)."
    )

    @classmethod
    def from_record(cls, row: AttemptRecord) -> AttemptType:
        return cls(
            attempt=row.attempt,
            at=DateTime(row.at),
            http_status=row.http_status,
            latency_ms=row.latency_ms,
            error_class=row.error_class,
            error=row.error,
            outcome=row.outcome,
        )


@strawberry.type(
    name="TimelinePoint",
    description="What happened to a mailing's messages during one bucket [start, start + bucket).",
)
class TimelinePoint:
    start: DateTime = strawberry.field(
        description="The bucket's first instant, UTC, aligned on the bucket."
    )
    sent: int = strawberry.field(description="Messages the probe accepted (by sentAt).")
    failed: int = strawberry.field(
        description="Messages that became FAILED (rejected, or their last attempt failed)."
    )
    retried: int = strawberry.field(
        description="Failed attempts that will be tried again (RETRYING after backoff); a"
        " message retried three times counts three times."
    )

    @classmethod
    def from_point(cls, point: Point) -> TimelinePoint:
        return cls(
            start=DateTime(point.start), sent=point.sent, failed=point.failed, retried=point.retried
        )
