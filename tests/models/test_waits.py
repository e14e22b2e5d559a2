"""Why an unsent message waits (models/waits.py), as a table at fixed instants, DST included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.mailing import MailingState, Window
from models.states import MessageStatus
from models.waits import WaitReason, needs_circuit, waiting_for

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # Europe/Berlin springs forward at 01:00 UTC
END = NOW + timedelta(hours=6)
NINE_TO_FIVE = Window(9 * 3600, 17 * 3600)
# 02:00-04:00 local: in Berlin 02:00-03:00 does not exist that day, so at 01:30 local
# (00:30 UTC) it is closed, and at 03:00 local (01:00 UTC) it is open.
NIGHT = Window(2 * 3600, 4 * 3600)
S, M, W = MessageStatus, MailingState, WaitReason
# status, next_attempt_at (offset from NOW), zone, mailing state, window, now offset, circuit
CASES = [
    ("sent", S.SENT, 0, "UTC", M.RUNNING, None, 0, True, W.NONE),
    ("in flight", S.SENDING, 0, "UTC", M.RUNNING, None, 0, True, W.NONE),
    ("due now", S.PENDING, 0, "UTC", M.RUNNING, None, 0, False, W.NONE),
    ("due, circuit open", S.PENDING, 0, "UTC", M.RUNNING, None, 0, True, W.CIRCUIT),
    ("paused", S.PENDING, 0, "UTC", M.PAUSED, None, 0, True, W.PAUSED),
    ("backoff", S.RETRYING, 30, "UTC", M.RUNNING, None, 0, True, W.RETRY_BACKOFF),
    ("backoff over", S.RETRYING, -1, "UTC", M.RUNNING, None, 0, False, W.NONE),
    ("window closed", S.PENDING, 3600, "UTC", M.RUNNING, NINE_TO_FIVE, 0, True, W.WINDOW),
    ("closed beats backoff", S.RETRYING, 30, "UTC", M.RUNNING, NINE_TO_FIVE, 0, True, W.WINDOW),
    ("open in Tokyo", S.PENDING, 0, "Asia/Tokyo", M.RUNNING, NINE_TO_FIVE, 0, False, W.NONE),
    ("DST gap: closed", S.PENDING, 1800, "Europe/Berlin", M.RUNNING, NIGHT, 0, False, W.WINDOW),
    ("DST jump: open", S.PENDING, 0, "Europe/Berlin", M.RUNNING, NIGHT, 1800, False, W.NONE),
    ("released at the end", S.PENDING, 6 * 3600, "UTC", M.RUNNING, None, 0, False, W.END),
    ("end passed", S.PENDING, 0, "UTC", M.RUNNING, None, 6 * 3600, True, W.END),
    ("cancelled meanwhile", S.PENDING, 0, "UTC", M.CANCELLED, None, 0, True, W.NONE),
]


@pytest.mark.parametrize(
    "status,next_in,zone,state,window,now_in,circuit,expected",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_waiting_for(
    status: MessageStatus,
    next_in: int,
    zone: str,
    state: MailingState,
    window: Window | None,
    now_in: int,
    circuit: bool,
    expected: WaitReason,
) -> None:
    reason = waiting_for(
        status=status,
        next_attempt_at=NOW + timedelta(seconds=next_in),
        timezone=zone,
        mailing_state=state,
        window=window,
        end_at=END,
        now=NOW + timedelta(seconds=now_in),
        circuit_open=circuit,
    )
    assert reason == expected


def test_the_circuit_is_read_only_for_unsent_messages_of_running_mailings() -> None:
    assert needs_circuit(S.PENDING, M.RUNNING) and needs_circuit(S.RETRYING, M.RUNNING)
    assert not needs_circuit(S.SENT, M.RUNNING) and not needs_circuit(S.PENDING, M.PAUSED)
