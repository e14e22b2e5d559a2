"""The outcome policy as a table: the facts in, one event of the transition table out."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from models.mailing import Window
from models.outcome import (
    Answer,
    Decision,
    RetryPolicy,
    after_answer,
    before_send,
    lease_too_short,
    too_late,
)
from models.transitions import MessageEvent as E

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)  # 12:00 UTC = 15:00 in Moscow
POLICY = RetryPolicy(max_attempts=3, backoff_base=1.0, backoff_cap=60.0)
HOUR = timedelta(hours=1)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


AFTER = [
    # answer, attempts, retry_after, event, earliest, latest (seconds after NOW), error
    (Answer.ACCEPTED, 1, None, E.ACCEPT, None, None, None),
    (Answer.ACCEPTED, 3, None, E.ACCEPT, None, None, None),
    (Answer.REJECTED, 1, None, E.REJECT, None, None, "HTTP 400"),
    (Answer.TRANSIENT, 1, None, E.RETRY, 0.5, 1.0, "HTTP 500"),
    (Answer.TRANSIENT, 2, None, E.RETRY, 1.0, 2.0, "HTTP 500"),
    (Answer.TRANSIENT, 2, 30.0, E.RETRY, 30.0, 30.0, "HTTP 500"),  # Retry-After wins
    (Answer.TRANSIENT, 3, None, E.REJECT, None, None, "HTTP 500 (attempts exhausted)"),
    (Answer.ERROR, 1, None, E.RETRY, 0.5, 1.0, "internal error"),
    (Answer.ERROR, 3, None, E.REJECT, None, None, "internal error (attempts exhausted)"),
    (Answer.UNAUTHORIZED, 1, None, E.RELEASE, 0.0, 0.0, "probe: 401/403"),
    (Answer.UNAUTHORIZED, 3, None, E.RELEASE, 0.0, 0.0, "probe: 401/403"),  # no attempt used
]


@pytest.mark.parametrize(
    ("answer", "attempts", "retry_after", "event", "earliest", "latest", "error"), AFTER
)
def test_after_answer(
    answer: Answer,
    attempts: int,
    retry_after: float | None,
    event: E,
    earliest: float | None,
    latest: float | None,
    error: str | None,
) -> None:
    detail = {Answer.REJECTED: "HTTP 400", Answer.TRANSIENT: "HTTP 500"}.get(answer, "")
    decision = after_answer(
        answer,
        attempts=attempts,
        policy=POLICY,
        now=NOW,
        rand=random.Random(1),
        detail=detail,
        retry_after=retry_after,
    )
    assert decision.event == event and decision.error == error
    if earliest is None:
        assert decision.at is None
    else:
        assert decision.at is not None and at(earliest) <= decision.at <= at(latest or 0)


MOSCOW_DAY = Window(9 * 3600, 20 * 3600)  # 09:00-20:00 local
MOSCOW_NIGHT = Window(22 * 3600, 6 * 3600)  # wraps midnight

BEFORE = [
    # end_at, window, zone, expected answer (s), decision
    (NOW + HOUR, None, "UTC", 0.2, None),
    (None, None, "UTC", 0.0, Decision(event=E.RELEASE, at=NOW)),  # mailing gone/paused
    (at(0.1), None, "UTC", 0.2, Decision(event=E.RELEASE, at=at(0.1))),  # answer after end
    (at(0.22), None, "UTC", 0.2, Decision(event=E.RELEASE, at=at(0.22))),  # within margin
    (at(0.3), None, "UTC", 0.2, None),
    (at(0.05), None, "UTC", 0.0, None),  # no measurement yet: only the certainly late wait
    (NOW, None, "UTC", 0.0, Decision(event=E.RELEASE, at=NOW)),
    (NOW + HOUR, MOSCOW_DAY, "Europe/Moscow", 0.2, None),
    (
        NOW + 24 * HOUR,
        MOSCOW_NIGHT,
        "Europe/Moscow",
        0.2,
        Decision(event=E.RELEASE, at=datetime(2030, 1, 1, 19, 0, tzinfo=UTC)),  # 22:00 MSK
    ),
]


@pytest.mark.parametrize(("end_at", "window", "zone", "expected", "decision"), BEFORE)
def test_before_send(
    end_at: datetime | None,
    window: Window | None,
    zone: str,
    expected: float,
    decision: Decision | None,
) -> None:
    got = before_send(
        now=NOW, end_at=end_at, window=window, timezone=zone, expected_answer=expected
    )
    assert got == decision


@pytest.mark.parametrize(
    ("left", "expected", "late"),
    [(1.0, 0.5, False), (0.52, 0.5, True), (0.53, 0.5, False), (0.0, 0.0, True)],
)
def test_the_end_cut_off(left: float, expected: float, late: bool) -> None:
    assert too_late(NOW, at(left), expected) is late


@pytest.mark.parametrize(
    ("left", "timeout", "short"),
    [(12.0, 10.0, False), (10.51, 10.0, False), (10.5, 10.0, True), (3.0, 10.0, True)],
)
def test_a_send_starts_only_while_its_lease_outlasts_the_timeout(
    left: float, timeout: float, short: bool
) -> None:
    assert lease_too_short(NOW, at(left), timeout) is short
    got = before_send(
        now=NOW,
        end_at=at(3600),
        window=None,
        timezone="UTC",
        expected_answer=0.1,
        lease_until=at(left),
        answer_within=timeout,
    )
    assert got == (Decision(event=E.RELEASE, at=NOW) if short else None)


def test_a_fresh_claim_always_passes_the_lease_check() -> None:
    """The settings' least lease (PROBE_TIMEOUT + 1 s, exclusive) leaves a send that starts
    within half a second of its claim free to go."""
    timeout = 10.0
    lease_until = at(timeout + 1.0 + 1e-6)
    assert not lease_too_short(NOW + timedelta(seconds=0.49), lease_until, timeout)
