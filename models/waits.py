"""Why an unsent message is not being sent right now, computed from its row, its mailing and
the probe circuit at `now` (never read from the clock here). A PENDING message that waits for
its window looks like any other PENDING one in the status alone; this says which it is."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from models.mailing import MailingState, Window
from models.states import MessageStatus
from models.transitions import UNSENT
from models.windows import is_open, zone

# The Redis key of the probe circuit (jobs/limits.py Circuit), under the queue name: the
# worker writes it, the API reads it, so its name lives below both.
CIRCUIT_KEY = "{prefix}:circuit"


def circuit_key(prefix: str) -> str:
    return CIRCUIT_KEY.format(prefix=prefix)


class WaitReason(StrEnum):
    NONE = "NONE"  # final, in flight, or due now: the next claim takes it
    PAUSED = "PAUSED"  # its mailing is paused
    WINDOW = "WINDOW"  # the client's local time is outside the mailing's window
    RETRY_BACKOFF = "RETRY_BACKOFF"  # a failed attempt's backoff has not run out
    END = "END"  # too close to (or past) endAt for an attempt: it will expire
    CIRCUIT = "CIRCUIT"  # the probe refused our token: the circuit is open


def waiting_for(
    *,
    status: MessageStatus,
    next_attempt_at: datetime | None,
    timezone: str,
    mailing_state: MailingState,
    window: Window | None,
    end_at: datetime,
    now: datetime,
    circuit_open: bool,
) -> WaitReason:
    """The first reason that holds, in the order the send loop applies them: a paused mailing
    claims nothing; a closed window (in the client's zone, DST-exact) holds a message however
    its backoff stands; a future `next_attempt_at` is a retry's backoff (RETRYING) or, for a
    PENDING message, a release at the end (`next_attempt_at` = endAt: no answer could come
    before it); only a message due now can be held by the circuit."""
    if status not in UNSENT or mailing_state not in (MailingState.RUNNING, MailingState.PAUSED):
        return WaitReason.NONE
    if mailing_state == MailingState.PAUSED:
        return WaitReason.PAUSED
    if now >= end_at:
        return WaitReason.END
    if window is not None and not is_open(now, window, zone(timezone)):
        return WaitReason.WINDOW
    if next_attempt_at is not None and next_attempt_at > now:
        if status == MessageStatus.RETRYING:
            return WaitReason.RETRY_BACKOFF
        return WaitReason.END if next_attempt_at >= end_at else WaitReason.WINDOW
    return WaitReason.CIRCUIT if circuit_open else WaitReason.NONE


def needs_circuit(status: MessageStatus, mailing_state: MailingState) -> bool:
    """Whether `waiting_for` may depend on the circuit (so the caller reads it only then)."""
    return status in UNSENT and mailing_state == MailingState.RUNNING
