"""The domain enums exposed under the contract's names (mypy sees the plain enums)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, TypeVar

import strawberry

from models.attempts import ErrorClass
from models.mailing import MailingState
from models.message import MessageStatus
from models.timeline import Bucket
from models.waits import WaitReason

E = TypeVar("E", bound=type[Enum])


def described(enum: E, name: str, description: str, values: dict[str, str]) -> E:
    """A domain enum as a GraphQL enum with a description on the type and on every value
    (the domain's enums cannot carry strawberry's `enum_value`: models/ knows no GraphQL)."""
    wrapped = strawberry.enum(enum, name=name, description=description)
    definition = wrapped.__strawberry_definition__  # type: ignore[attr-defined]
    assert {v.name for v in definition.values} == set(values), f"describe every {name} value"
    for value in definition.values:
        value.description = values[value.name]
    return wrapped


MESSAGE_STATUSES = {
    "PENDING": "Waiting to be sent: due now, or held back (waitingFor says why and"
    " nextAttemptAt until when).",
    "SENDING": "Claimed by a worker: the probe request is in flight (if the worker dies, the"
    " sweep makes it RETRYING once its lease, LEASE_SECONDS, runs out).",
    "RETRYING": "An attempt failed transiently (5xx, 429, timeout, bad body); tried again"
    " after a backoff, at nextAttemptAt.",
    "SENT": "The probe accepted it (final).",
    "FAILED": "The probe rejected it for good (a 4xx other than 401, 403 and 429), or its"
    " last attempt (MAX_ATTEMPTS) failed (final).",
    "EXPIRED": "Not sent before endAt, or its window cannot open before endAt. Final, except"
    " that one expired for its window is PENDING again if an edit of endAt or window lets"
    " the window open before the end.",
    "CANCELLED": "Its mailing was cancelled, or its client deleted, before it was sent (final).",
}
MAILING_STATES = {
    "SCHEDULED": "Waiting for startAt (a start in the past starts within a second); every"
    " field may be edited.",
    "RUNNING": "Started: its audience was snapshotted into messages, which are being sent;"
    " only endAt and window may be edited.",
    "PAUSED": "pauseMailing: nothing is sent until resumeMailing (back to RUNNING, or to"
    " SCHEDULED if it had not started); only endAt and window may be edited.",
    "FINISHED": "Every message reached a final status (a paused mailing: once endAt passed),"
    " or its whole period passed before it could start; final: no edit, pause or resume"
    " (CONFLICT).",
    "CANCELLED": "cancelMailing: its unsent messages were CANCELLED; final: no edit, pause or"
    " resume (CONFLICT).",
}
WAIT_REASONS = {
    "NONE": "Not waiting: the message is final, in flight (SENDING), or due now (the next"
    " claim takes it).",
    "PAUSED": "Its mailing is paused; resumeMailing makes it due again.",
    "WINDOW": "The client's local time (its IANA zone, at the server's now) is outside the"
    " mailing's window; it is claimed from the zone's next opening (nextAttemptAt).",
    "RETRY_BACKOFF": "A failed attempt's backoff (exponential with jitter, never shorter than"
    " the probe's Retry-After) runs until nextAttemptAt.",
    "END": "endAt has passed, or is too close for an answer to come before it: no attempt"
    " starts; the sweep marks it EXPIRED at endAt.",
    "CIRCUIT": "The probe refused Herald's token (401/403): nothing is sent but one trial"
    " every CIRCUIT_TRIAL_SECONDS until one is accepted. Read from Redis; while Redis does"
    " not answer this is reported as NONE.",
}
ERROR_CLASSES = {
    "TRANSIENT": 'An HTTP answer worth retrying: 5xx, 429, or a 200 whose body is not {"code": 0}.',
    "TIMEOUT": "No answer within PROBE_TIMEOUT, or no connection at all (httpStatus null).",
    "REJECTED": "400/404/422 (or another 4xx): the probe will never accept this message.",
    "UNAUTHORIZED": "401/403: the probe refused Herald's token; the circuit opened and the"
    " attempt was given back (attempts is not counted down by it).",
    "ERROR": "An unexpected error inside Herald while sending; retried like TRANSIENT.",
}
BUCKETS = {
    "SECOND": "One second (UTC).",
    "MINUTE": "One minute, starting at :00 UTC.",
    "HOUR": "One hour, starting on the hour UTC.",
}

if TYPE_CHECKING:
    MessageStatusEnum = MessageStatus
    MailingStateEnum = MailingState
    WaitReasonEnum = WaitReason
    ErrorClassEnum = ErrorClass
    TimelineBucketEnum = Bucket
else:
    MessageStatusEnum = described(
        MessageStatus, "MessageStatus", "Where a message is in its delivery.", MESSAGE_STATUSES
    )
    MailingStateEnum = described(
        MailingState,
        "MailingState",
        "Where a mailing is in its life; moves only as the state table allows.",
        MAILING_STATES,
    )
    WaitReasonEnum = described(
        WaitReason,
        "WaitReason",
        "Why an unsent message is not being sent right now (Message.waitingFor).",
        WAIT_REASONS,
    )
    ErrorClassEnum = described(
        ErrorClass, "AttemptErrorClass", "Why a probe attempt failed.", ERROR_CLASSES
    )
    TimelineBucketEnum = described(
        Bucket, "TimelineBucket", "The width of one Mailing.timeline bucket.", BUCKETS
    )


@strawberry.enum(description="Which way a list is sorted.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("asc", description="Smallest (oldest, earliest) first.")
    DESC = strawberry.enum_value("desc", description="Largest (newest, latest) first.")


@strawberry.enum(description="What `mailings(orderBy:)` sorts by; equal values are ordered by id.")
class MailingOrderField(Enum):
    CREATED_AT = strawberry.enum_value("created_at", description="When the mailing was created.")
    START_AT = strawberry.enum_value("start_at", description="Its startAt.")
    STATE = strawberry.enum_value(
        "state",
        description="The state's name alphabetically (CANCELLED, FINISHED, PAUSED, RUNNING,"
        " SCHEDULED with ASC), then by creation time in the same direction.",
    )
