"""clone_period as a table: the copy's period from the arguments, or from the source's lead
time (never negative) and duration, with `now` passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.mailing import Mailing, clone_period

NOW = datetime(2031, 3, 30, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
CREATED = datetime(2030, 1, 1, tzinfo=UTC)


def source(lead: timedelta, duration: timedelta) -> Mailing:
    return Mailing(
        text="t", created_at=CREATED, start_at=CREATED + lead, end_at=CREATED + lead + duration
    )


CASES = [
    # lead, duration, startAt, endAt -> start, end
    (24 * H, 2 * H, None, None, NOW + 24 * H, NOW + 26 * H),
    (-5 * H, 2 * H, None, None, NOW, NOW + 2 * H),  # started before it was created: at once
    (0 * H, 30 * H, NOW + H, None, NOW + H, NOW + 31 * H),
    (24 * H, 2 * H, None, NOW + 100 * H, NOW + 24 * H, NOW + 100 * H),
    (24 * H, 2 * H, NOW - H, NOW - 2 * H, NOW - H, NOW - 2 * H),  # as given: validated later
]


@pytest.mark.parametrize("lead,duration,start_at,end_at,start,end", CASES)
def test_clone_period(
    lead: timedelta,
    duration: timedelta,
    start_at: datetime | None,
    end_at: datetime | None,
    start: datetime,
    end: datetime,
) -> None:
    assert clone_period(source(lead, duration), start_at, end_at, NOW) == (start, end)
