"""Local-time sending windows: is a client's wall clock inside [start, end) now, and when next?

A window is wall-clock time in the client's IANA zone, so it follows DST: on a spring-forward day
a start inside the gap opens the window when the clock jumps past it, and on a fall-back day the
repeated hour is inside the window twice. Everything here takes `now` and never reads the clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from models.mailing import Window

DAY = 86400
_HORIZON = 74 * 3600  # local today..today+2, plus the largest DST shift
_STEP = 6 * 3600  # no zone changes its offset twice within six hours


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """Cached so that grouping thousands of clients by zone name builds each zone once."""
    return ZoneInfo(name)


def local_seconds(now: datetime, zone: ZoneInfo) -> int:
    """Wall-clock seconds after local midnight, as the client's clock reads them (not elapsed
    seconds: on a DST day 03:00 is 10800 even though only two hours have passed)."""
    local = _aware(now, "now").astimezone(zone)
    return local.hour * 3600 + local.minute * 60 + local.second


def is_open(now: datetime, window: Window, zone: ZoneInfo) -> bool:
    """Start is inclusive and end exclusive; end < start means the window spans midnight."""
    _check(window)
    seconds = local_seconds(now, zone)
    if window.start < window.end:
        return window.start <= seconds < window.end
    return seconds >= window.start or seconds < window.end


def next_opening(now: datetime, window: Window, zone: ZoneInfo) -> datetime:
    """The earliest instant >= now (in UTC) at which the window is open; `now` itself if open.

    The wall clock enters the window either by ticking onto `start` or by jumping into the
    window at a DST transition, so those instants are the only candidates. That is what makes a
    start inside a spring-forward gap open at the jump (03:00 for 02:30), an ambiguous start open
    at its first occurrence, and a window wholly inside a gap open on the next day instead.
    """
    _check(window)
    now = _aware(now, "now").astimezone(UTC)
    today = now.astimezone(zone).date()
    candidates = [now, *_start_instants(today, window.start, zone), *_transitions(now, zone)]
    # A window opens at least every other local day, so today..today+2 always has a candidate.
    return min(t for t in candidates if t >= now and is_open(t, window, zone))


def opening_before_end(
    now: datetime, window: Window, zone: ZoneInfo, end: datetime
) -> datetime | None:
    """None when the window will not open before `end`: the message can never be sent."""
    end = _aware(end, "end").astimezone(UTC)  # UTC on both sides: PEP 495 fold comparisons
    opening = next_opening(now, window, zone)
    return opening if opening < end else None


def zones_open(now: datetime, window: Window, zones: Iterable[str]) -> set[str]:
    """Zone names whose wall clock is inside the window, for claiming only sendable messages."""
    return {name for name in set(zones) if is_open(now, window, zone(name))}


def next_openings(now: datetime, window: Window, zones: Iterable[str]) -> dict[str, datetime]:
    """Next opening per zone name, so waiting messages are rescheduled by one UPDATE per zone."""
    return {name: next_opening(now, window, zone(name)) for name in set(zones)}


def _start_instants(today: date, start: int, zone: ZoneInfo) -> Iterator[datetime]:
    """Every instant at which the wall clock reads `start`, local today..today+2: two on a
    fall-back day, none when `start` falls into a spring-forward gap (a transition covers it)."""
    for days in range(3):
        for fold in (0, 1):
            wall = time(start // 3600, start // 60 % 60, start % 60, fold=fold)
            local = datetime.combine(today + timedelta(days=days), wall, zone)
            instant = local.astimezone(UTC)
            if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
                yield instant


def _transitions(now: datetime, zone: ZoneInfo) -> list[datetime]:
    """Instants within the horizon at which the zone's UTC offset changes (the clock jumps)."""
    first = math.floor(now.timestamp())
    samples = range(first, first + _HORIZON + _STEP, _STEP)
    return [_bisect(lo, hi, zone) for lo, hi in pairwise(samples) if _differ(lo, hi, zone)]


def _bisect(lo: int, hi: int, zone: ZoneInfo) -> datetime:
    """The first second with hi's offset; tz transitions fall on whole seconds."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _differ(lo, mid, zone) else (mid, hi)
    return datetime.fromtimestamp(hi, UTC)


def _differ(a: int, b: int, zone: ZoneInfo) -> bool:
    return _offset(a, zone) != _offset(b, zone)


def _offset(timestamp: int, zone: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, zone).utcoffset()


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def _check(window: Window) -> None:
    if not (0 <= window.start < DAY and 0 <= window.end < DAY):
        raise ValueError("window bounds are seconds after midnight, 0..86399")
    if window.start == window.end:
        raise ValueError("window start and end must differ")
