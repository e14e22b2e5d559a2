"""The outcome policy: what happens to a claimed message before and after its probe call,
as pure functions of the facts (no I/O, no clock: `now` is passed in). The send loop
(jobs/dispatch.py) only does the I/O and writes the events these return."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from models.attempts import Attempt, ErrorClass
from models.mailing import Window
from models.transitions import MessageEvent
from models.windows import is_open, next_opening, zone

ANSWER_MARGIN = 0.02  # seconds of slack on top of the expected answer time
# Seconds a claimed message's lease must outlast the probe timeout for its send to start. The
# settings demand a lease over PROBE_TIMEOUT + 1 s, so a message starting within 0.5 s of
# its claim always may; one that waited longer for a free slot is given back instead.
LEASE_MARGIN = 0.5


class Answer(StrEnum):
    """The probe's answer, as jobs/probe.py classifies it."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"  # 400/404/422: this message will never be accepted
    TRANSIENT = "transient"  # timeout, connection error, 5xx, 429, a 200 with a bad body
    UNAUTHORIZED = "unauthorized"  # 401/403: our token, not this message
    ERROR = "error"  # a bug of ours while sending: retried like a transient failure


class Tried(NamedTuple):
    """A probe call's answer as the send loop saw it, and what the attempt history keeps of
    it (`outcome`: the metrics' label, also the error class of a failed attempt). This and
    Decision are made once per message sent: NamedTuples, immutable at a third of a frozen
    dataclass's cost."""

    answer: Answer
    outcome: str
    status: int | None = None
    latency: float | None = None
    detail: str = ""
    retry_after: float | None = None

    def attempt(self, number: int, at: datetime) -> Attempt | None:
        if self.answer == Answer.ACCEPTED:
            return None
        return Attempt(
            number=number,
            at=at,
            error_class=ErrorClass(self.outcome),
            http_status=self.status,
            latency=self.latency,
        )


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    max_attempts: int
    backoff_base: float
    backoff_cap: float


class Decision(NamedTuple):
    event: MessageEvent
    at: datetime | None = None  # when it may be claimed again (None: now)
    error: str | None = None


def backoff(
    attempts: int, base: float, cap: float, retry_after: float | None, rand: random.Random
) -> float:
    """Exponential backoff with jitter (half to full delay, so retries of a burst spread out
    instead of hitting the probe together); never sooner than the server's Retry-After."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    delay *= 0.5 + rand.random() / 2
    return float(max(delay, retry_after or 0.0))


def too_late(now: datetime, end_at: datetime, expected_answer: float) -> bool:
    """THE end cut-off of a send: an attempt starts only if its answer is expected before
    the end (`expected_answer`: a high percentile of recent round trips, in seconds). An
    attempt that did start is never cut at the end: its answer is recorded whenever it comes."""
    return (end_at - now).total_seconds() <= expected_answer + ANSWER_MARGIN


def lease_too_short(now: datetime, lease_until: datetime, answer_within: float) -> bool:
    """A claimed message that waited for a free slot may start only while its lease outlasts
    the longest the answer may take (`answer_within`: the probe timeout) with a margin: a
    lease that ran out mid-send would let the sweep hand the message to another send."""
    return (lease_until - now).total_seconds() <= answer_within + LEASE_MARGIN


def before_send(
    *,
    now: datetime,
    end_at: datetime | None,
    window: Window | None,
    timezone: str,
    expected_answer: float,
    lease_until: datetime | None = None,
    answer_within: float = 0.0,
) -> Decision | None:
    """None: send now. Otherwise the message goes back unattempted (its attempt given back):
    to wait out the end (the sweep expires it; `end_at` None: the mailing is gone or no
    longer running), at once when its lease (if given) is too short for an answer, or to
    its zone's next window opening."""
    if end_at is None:
        return Decision(event=MessageEvent.RELEASE, at=now)
    if lease_until is not None and lease_too_short(now, lease_until, answer_within):
        return Decision(event=MessageEvent.RELEASE, at=now)
    if too_late(now, end_at, expected_answer):
        return Decision(event=MessageEvent.RELEASE, at=end_at)
    if window is not None and not is_open(now, window, zone(timezone)):
        opening = next_opening(now, window, zone(timezone))
        return Decision(event=MessageEvent.RELEASE, at=opening)
    return None


def after_answer(
    answer: Answer,
    *,
    attempts: int,
    policy: RetryPolicy,
    now: datetime,
    rand: random.Random,
    detail: str = "",
    retry_after: float | None = None,
) -> Decision:
    """What the answer to attempt number `attempts` makes of the message."""
    if answer == Answer.ACCEPTED:
        return Decision(event=MessageEvent.ACCEPT)
    if answer == Answer.REJECTED:
        return Decision(event=MessageEvent.REJECT, error=detail)
    if answer == Answer.UNAUTHORIZED:  # the circuit opens; this message did nothing wrong
        return Decision(event=MessageEvent.RELEASE, at=now, error="probe: 401/403")
    detail = detail or "internal error"
    if attempts >= policy.max_attempts:
        return Decision(event=MessageEvent.REJECT, error=f"{detail} (attempts exhausted)")
    delay = backoff(attempts, policy.backoff_base, policy.backoff_cap, retry_after, rand)
    return Decision(event=MessageEvent.RETRY, at=now + timedelta(seconds=delay), error=detail)
