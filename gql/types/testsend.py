"""testSend's record in the schema: `TestSend`, its `TestSendOutcome` and the connection that
`Mailing.testSends` pages over."""

from __future__ import annotations

from enum import Enum

import strawberry

from gql.scalars import DateTime
from gql.types.pagination import Connection
from models.testsend import TestSend


@strawberry.enum(
    name="TestSendOutcome", description="What the probe made of a test send (one attempt)."
)
class TestSendOutcomeEnum(Enum):
    SENDING = strawberry.enum_value(
        "SENDING", description="Asked, with no answer recorded: the server stopped meanwhile."
    )
    SENT = strawberry.enum_value("SENT", description="The probe accepted it (HTTP 200, code 0).")
    REJECTED = strawberry.enum_value(
        "REJECTED", description="The probe refused it for good (400, 404, 422, other 4xx)."
    )
    FAILED = strawberry.enum_value(
        "FAILED",
        description=(
            "No acceptance: timeout, connection error, 5xx, 429, a malformed body, or the probe"
            " refusing Herald's token (401/403). Not retried: send again to retry."
        ),
    )


@strawberry.type(
    name="TestSend",
    description=(
        "One message sent by testSend: the mailing's text to one phone, through the probe,"
        " at once. Kept apart from the mailing's messages: never in its stats or exports."
    ),
)
class TestSendType:
    id: strawberry.ID = strawberry.field(description="The test send's own id (not a message id).")
    mailing_id: strawberry.ID = strawberry.field(description="The mailing whose text was sent.")
    probe_message_id: strawberry.ID = strawberry.field(
        description="The probe's msgId for it: 2^62 + id, beyond any message id."
    )
    phone: str = strawberry.field(description="The number it was sent to, 7XXXXXXXXXX.")
    text: str = strawberry.field(description="The text sent: the mailing's text at that moment.")
    outcome: TestSendOutcomeEnum = strawberry.field(description="What the probe answered.")
    http_status: int | None = strawberry.field(
        description="The probe's HTTP status; null without an HTTP answer."
    )
    error: str | None = strawberry.field(
        description="Why it was not accepted (at most 300 characters); else null."
    )
    latency_ms: float | None = strawberry.field(
        description="Milliseconds from the request to the probe's answer or the timeout."
    )
    created_at: DateTime = strawberry.field(description="When it was sent (UTC).")

    @classmethod
    def from_model(cls, row: TestSend) -> TestSendType:
        """The row's values (a finished record: nothing here is loaded lazily)."""
        return cls(
            id=strawberry.ID(str(row.id)),
            mailing_id=strawberry.ID(str(row.mailing_id)),  # type: ignore[attr-defined]
            probe_message_id=strawberry.ID(str(row.probe_id)),
            phone=row.phone,
            text=row.text,
            outcome=TestSendOutcomeEnum(row.outcome.value),
            http_status=row.http_status,
            error=row.error,
            latency_ms=row.latency_ms,
            created_at=DateTime(row.created_at),
        )


TestSendConnection = Connection[TestSendType]
