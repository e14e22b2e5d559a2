"""Sending windows in local wall time, table-tested on DST days of 2026.

Transitions used below (UTC instants):
  Europe/Berlin      2026-03-29 01:00 (02:00 CET -> 03:00 CEST), 2026-10-25 01:00 (03:00 -> 02:00)
  America/New_York   2026-03-08 07:00 (02:00 EST -> 03:00 EDT), 2026-11-01 06:00 (02:00 -> 01:00)
  Australia/Lord_Howe 2026-04-04 15:00 (02:00 -> 01:30), 2026-10-03 15:30 (02:00 -> 02:30)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.mailing import Window
from models.windows import (
    is_open,
    local_seconds,
    next_opening,
    next_openings,
    opening_before_end,
    zone,
    zones_open,
)

MOSCOW, BERLIN, NEW_YORK = "Europe/Moscow", "Europe/Berlin", "America/New_York"
KOLKATA, LORD_HOWE, KIRITIMATI = "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def win(text: str) -> Window:
    """'22:00-06:00' -> Window in seconds after midnight."""
    start, end = (int(p[:2]) * 3600 + int(p[3:5]) * 60 for p in text.split("-"))
    return Window(start, end)


LOCAL_SECONDS = [
    ("2026-06-01 06:00", MOSCOW, 9 * 3600),
    ("2026-06-01 03:30:15", KOLKATA, 9 * 3600 + 15),
    ("2026-06-01 10:00", KIRITIMATI, 0),
    ("2026-03-29 01:00", BERLIN, 3 * 3600),  # wall clock, not elapsed: only 2 h since midnight
    ("2026-10-25 01:30", BERLIN, 2 * 3600 + 1800),  # second 02:30
    ("2026-10-03 15:30", LORD_HOWE, 2 * 3600 + 1800),
]


@pytest.mark.parametrize("now,name,expected", LOCAL_SECONDS)
def test_local_seconds(now: str, name: str, expected: int) -> None:
    assert local_seconds(utc(now), zone(name)) == expected


IS_OPEN = [
    # plain window, start inclusive and end exclusive (MSK = UTC+3, no DST)
    ("2026-06-01 05:59:59", "09:00-18:00", MOSCOW, False),
    ("2026-06-01 06:00", "09:00-18:00", MOSCOW, True),
    ("2026-06-01 14:59:59", "09:00-18:00", MOSCOW, True),
    ("2026-06-01 15:00", "09:00-18:00", MOSCOW, False),
    # wrap-around window
    ("2026-06-01 18:59:59", "22:00-06:00", MOSCOW, False),
    ("2026-06-01 19:00", "22:00-06:00", MOSCOW, True),
    ("2026-06-01 21:00", "22:00-06:00", MOSCOW, True),  # local midnight
    ("2026-06-02 02:59:59", "22:00-06:00", MOSCOW, True),
    ("2026-06-02 03:00", "22:00-06:00", MOSCOW, False),
    ("2026-06-01 00:00", "00:00-01:00", MOSCOW, False),  # 03:00 local
    # half-hour and +14 offsets
    ("2026-06-01 03:29", "09:00-18:00", KOLKATA, False),
    ("2026-06-01 03:30", "09:00-18:00", KOLKATA, True),
    ("2026-06-01 18:59", "09:00-18:00", KIRITIMATI, False),  # 08:59 on June 2
    ("2026-06-01 19:00", "09:00-18:00", KIRITIMATI, True),
    # the same UTC instant is 09:00 EDT in summer and 08:00 EST in winter
    ("2026-07-01 13:00", "09:00-18:00", NEW_YORK, True),
    ("2026-01-15 13:00", "09:00-18:00", NEW_YORK, False),
    # spring-forward: 01:59:59 CET then 03:00 CEST
    ("2026-03-29 00:59:59", "02:30-04:00", BERLIN, False),
    ("2026-03-29 01:00", "02:30-04:00", BERLIN, True),
    ("2026-03-29 01:00", "02:10-02:50", BERLIN, False),  # wholly inside the gap
    # fall-back: 02:30 CEST and 02:30 CET are both inside
    ("2026-10-25 00:30", "02:00-03:00", BERLIN, True),
    ("2026-10-25 01:30", "02:00-03:00", BERLIN, True),
    ("2026-10-25 00:59:59", "01:30-02:15", BERLIN, False),  # 02:59:59 CEST
    ("2026-10-25 01:00", "01:30-02:15", BERLIN, True),  # clock falls back to 02:00 CET
    # Lord Howe moves its clock by 30 minutes: 01:59:59 -> 02:30
    ("2026-10-03 15:29:59", "02:15-03:00", LORD_HOWE, False),
    ("2026-10-03 15:30", "02:15-03:00", LORD_HOWE, True),
]


@pytest.mark.parametrize("now,window,name,expected", IS_OPEN)
def test_is_open(now: str, window: str, name: str, expected: bool) -> None:
    assert is_open(utc(now), win(window), zone(name)) is expected


NEXT_OPENING = [
    ("2026-06-01 03:00", "09:00-18:00", MOSCOW, "2026-06-01 06:00"),
    ("2026-06-01 15:00", "09:00-18:00", MOSCOW, "2026-06-02 06:00"),  # end exclusive
    ("2026-06-01 12:00", "22:00-06:00", MOSCOW, "2026-06-01 19:00"),
    ("2026-06-01 00:00", "09:00-18:00", KOLKATA, "2026-06-01 03:30"),
    ("2026-06-01 05:00", "09:00-18:00", KIRITIMATI, "2026-06-01 19:00"),
    ("2026-03-08 05:00", "09:00-17:00", NEW_YORK, "2026-03-08 13:00"),  # EDT already
    ("2026-11-01 04:00", "09:00-17:00", NEW_YORK, "2026-11-01 14:00"),  # EST already
    # start inside the spring-forward gap opens at the jump
    ("2026-03-28 23:00", "02:30-04:00", BERLIN, "2026-03-29 01:00"),
    ("2026-03-29 00:00", "02:30-01:00", BERLIN, "2026-03-29 01:00"),  # wrapping window
    ("2026-03-08 05:00", "02:30-05:00", NEW_YORK, "2026-03-08 07:00"),
    ("2026-10-03 13:30", "02:00-03:00", LORD_HOWE, "2026-10-03 15:30"),
    # a window wholly inside the gap does not open that day at all
    ("2026-03-28 23:00", "02:10-02:50", BERLIN, "2026-03-30 00:10"),
    ("2026-10-03 13:30", "02:05-02:25", LORD_HOWE, "2026-10-04 15:05"),
    # ambiguous start opens at its first occurrence
    ("2026-10-24 22:00", "02:30-04:00", BERLIN, "2026-10-25 00:30"),
    ("2026-11-01 04:00", "01:30-03:00", NEW_YORK, "2026-11-01 05:30"),
    ("2026-04-04 13:00", "01:45-03:00", LORD_HOWE, "2026-04-04 14:45"),
    # ... and again at its second occurrence once the first has closed
    ("2026-10-25 00:45", "02:00-02:30", BERLIN, "2026-10-25 01:00"),
    ("2026-10-25 00:20", "01:30-02:15", BERLIN, "2026-10-25 01:00"),  # falls back into it
    ("2026-11-01 05:40", "01:30-01:35", NEW_YORK, "2026-11-01 06:30"),
]


@pytest.mark.parametrize("now,window,name,expected", NEXT_OPENING)
def test_next_opening(now: str, window: str, name: str, expected: str) -> None:
    opening = next_opening(utc(now), win(window), zone(name))
    assert opening == utc(expected)
    assert opening.tzinfo is UTC


@pytest.mark.parametrize(
    "now,window,name",
    [
        (datetime(2026, 6, 1, 12, 0, 0, 500, tzinfo=ZoneInfo(MOSCOW)), "09:00-18:00", MOSCOW),
        (datetime(2026, 3, 29, 3, 0, tzinfo=ZoneInfo(BERLIN)), "02:30-04:00", BERLIN),
        (datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo(BERLIN)), "02:00-03:00", BERLIN),
    ],
)
def test_next_opening_is_now_when_open(now: datetime, window: str, name: str) -> None:
    opening = next_opening(now, win(window), zone(name))
    # compared in UTC: PEP 495 makes a fold=1 time unequal to every time in another zone
    assert opening == now.astimezone(UTC)
    assert opening.tzinfo is UTC


OPENING_BEFORE_END = [
    ("2026-06-01 03:00", "2026-06-01 06:00", None),  # opens exactly at the end
    ("2026-06-01 03:00", "2026-06-01 05:00", None),
    ("2026-06-01 03:00", "2026-06-01 06:00:01", "2026-06-01 06:00"),
    ("2026-06-01 10:00", "2026-06-01 10:00", None),  # open, but already at the end
    ("2026-06-01 10:00", "2026-06-01 10:01", "2026-06-01 10:00"),
    ("2026-06-01 16:00", "2026-06-02 05:59", None),  # closed until after the end
]


@pytest.mark.parametrize("now,end,expected", OPENING_BEFORE_END)
def test_opening_before_end(now: str, end: str, expected: str | None) -> None:
    result = opening_before_end(utc(now), win("09:00-18:00"), zone(MOSCOW), utc(end))
    assert result == (None if expected is None else utc(expected))


ZONES = [MOSCOW, BERLIN, NEW_YORK, KOLKATA, LORD_HOWE, KIRITIMATI]


@pytest.mark.parametrize(
    "now,window,expected",
    [
        ("2026-06-01 07:00", "09:00-17:00", {MOSCOW, BERLIN, KOLKATA}),  # Lord Howe 17:30
        ("2026-06-01 13:00", "09:00-17:00", {MOSCOW, BERLIN, NEW_YORK}),
        ("2026-06-01 20:00", "09:00-17:00", {NEW_YORK, KIRITIMATI}),
        ("2026-06-01 02:00", "22:00-06:00", {MOSCOW, BERLIN, NEW_YORK}),
        ("2026-06-01 02:00", "13:00-14:00", set()),  # 12:30 at Lord Howe, 16:00 at Kiritimati
    ],
)
def test_zones_open(now: str, window: str, expected: set[str]) -> None:
    assert zones_open(utc(now), win(window), [*ZONES, MOSCOW]) == expected


def test_next_openings() -> None:
    now = utc("2026-06-01 07:00")
    assert next_openings(now, win("09:00-18:00"), ZONES) == {
        MOSCOW: now,  # 10:00
        BERLIN: now,  # 09:00 CEST
        NEW_YORK: utc("2026-06-01 13:00"),
        KOLKATA: now,  # 12:30
        LORD_HOWE: now,  # 17:30, standard time in June
        KIRITIMATI: utc("2026-06-01 19:00"),  # 09:00 on June 2
    }


def test_zone_is_cached() -> None:
    assert zone(BERLIN) is zone(BERLIN)


NAIVE = datetime(2026, 6, 1, 12, 0)
AWARE = utc("2026-06-01 12:00")
CALLS: list[Callable[[], object]] = [
    lambda: local_seconds(NAIVE, zone(BERLIN)),
    lambda: is_open(NAIVE, win("09:00-18:00"), zone(BERLIN)),
    lambda: next_opening(NAIVE, win("09:00-18:00"), zone(BERLIN)),
    lambda: opening_before_end(NAIVE, win("09:00-18:00"), zone(BERLIN), AWARE),
    lambda: opening_before_end(AWARE, win("09:00-18:00"), zone(BERLIN), NAIVE),
    lambda: zones_open(NAIVE, win("09:00-18:00"), [BERLIN]),
    lambda: next_openings(NAIVE, win("09:00-18:00"), [BERLIN]),
]


@pytest.mark.parametrize("call", CALLS)
def test_naive_datetimes_are_rejected(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


@pytest.mark.parametrize("window", [Window(3600, 3600), Window(-1, 3600), Window(0, 86400)])
def test_invalid_windows_are_rejected(window: Window) -> None:
    with pytest.raises(ValueError, match="window"):
        next_opening(AWARE, window, zone(BERLIN))


PROPERTY_WINDOWS = ["09:00-17:00", "22:00-06:00", "02:30-04:00", "02:10-02:50", "01:30-02:15"]


@pytest.mark.parametrize(
    "name,midnight",
    [
        (BERLIN, "2026-03-28 23:00"),
        (BERLIN, "2026-10-24 22:00"),
        (NEW_YORK, "2026-03-08 05:00"),
        (NEW_YORK, "2026-11-01 04:00"),
        (LORD_HOWE, "2026-04-04 13:00"),
        (LORD_HOWE, "2026-10-03 13:30"),
    ],
)
@pytest.mark.parametrize("window", PROPERTY_WINDOWS)
def test_next_opening_is_exact(name: str, midnight: str, window: str) -> None:
    """Every 7 minutes across a DST day: the opening is open, a second earlier is not (unless
    it is `now`), and no whole minute between `now` and it is open (brute force up to 48 h)."""
    tz, w = zone(name), win(window)
    first, minute = utc(midnight) - timedelta(hours=2), timedelta(minutes=1)
    steps = 28 * 60 // 7
    minutes = [first + i * minute for i in range(steps * 7 + 48 * 60)]
    # next_open[i]: index of the first open minute at or after minutes[i], by a backward sweep
    next_open: list[int | None] = [None] * (len(minutes) + 1)
    for i in reversed(range(len(minutes))):
        next_open[i] = i if is_open(minutes[i], w, tz) else next_open[i + 1]
    for i in range(0, steps * 7, 7):
        now, expected = minutes[i], next_open[i]
        opening = next_opening(now, w, tz)
        assert expected is not None, f"no opening within 48 h of {now}"
        assert opening == minutes[expected], f"from {now}"
        assert is_open(opening, w, tz)
        assert opening == now or not is_open(opening - timedelta(seconds=1), w, tz)
