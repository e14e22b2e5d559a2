"""The audience preview: how many clients a filter selects, per time zone, and, for a window,
in which zones it opens before the end — so an operator sees "N clients match" before
creating a mailing. The clients are selected by the fan-out's own condition
(models/audience.py:audience_where) and counted in one grouped query; the openings are
models/windows.py's, per zone, not per client."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from models.audience import Filtered, audience_where
from models.client import Client
from models.errors import InvalidInput
from models.mailing import Window, validate_aware, validate_period
from models.sql import fetch
from models.windows import opening_before_end, zone

# One pass over the client index (timezone, operator_code, tag): count and zones together.
ZONE_COUNTS = (
    "SELECT c.timezone AS zone, COUNT(*) AS n FROM client c WHERE {audience} GROUP BY c.timezone"
)
SAMPLE_IDS = "SELECT c.id FROM client c WHERE {audience} ORDER BY c.id LIMIT :n"
DEFAULT_SAMPLE = 10
MAX_SAMPLE = 50


@dataclass(frozen=True)
class Period:
    """The mailing being previewed: its window, and when it would start and end (UTC)."""

    window: Window
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True)
class ZoneReach:
    zone: str
    count: int
    opens_at: datetime | None  # the window's first opening from the start, if before the end


@dataclass(frozen=True)
class Preview:
    count: int
    zones: list[ZoneReach]  # most clients first, then by zone name
    reachable: int | None  # clients whose zone opens before the end; None without a period


def validate_preview_period(
    window: Window | None, start_at: datetime | None, end_at: datetime | None, now: datetime
) -> Period | None:
    """A window needs an end (BAD_USER_INPUT on endAt); the start defaults to `now`. The times
    obey createMailing's rules (aware, in range, the end after the start and ahead of now)."""
    if start_at is not None:
        validate_aware(start_at, "startAt")
    if end_at is None:
        if window is not None:
            raise InvalidInput("endAt is needed to preview a window", field="endAt")
        return None
    start, end = validate_period(start_at or now, end_at, now)
    return None if window is None else Period(window, start, end)


def openings(period: Period, now: datetime, zones: Iterable[str]) -> dict[str, datetime | None]:
    """Per zone, the window's first opening at or after the start (a start in the past means
    now, as a mailing then starts at once), or None when it cannot open before the end."""
    begin = max(period.start_at, now)
    return {
        name: opening_before_end(begin, period.window, zone(name), period.end_at)
        for name in set(zones)
    }


async def preview(audience: Filtered, period: Period | None, now: datetime) -> Preview:
    """The count and the zones in one grouped query; the window's reach per zone computed
    from the zone names alone."""
    where, params = audience_where(audience)
    rows = await fetch(ZONE_COUNTS.format(audience=where), **params)
    counts = sorted(((str(r["zone"]), int(r["n"])) for r in rows), key=lambda z: (-z[1], z[0]))
    opens = openings(period, now, (name for name, _ in counts)) if period else {}
    zones = [ZoneReach(name, n, opens.get(name)) for name, n in counts]
    reachable = sum(z.count for z in zones if z.opens_at is not None) if period else None
    return Preview(sum(n for _, n in counts), zones, reachable)


def sample_size(first: int | None) -> int:
    """At most MAX_SAMPLE (a larger request is served the cap, as pages are)."""
    if first is None:
        return DEFAULT_SAMPLE
    if first < 0:
        raise InvalidInput("first must not be negative", field="first")
    return min(first, MAX_SAMPLE)


async def sample(audience: Filtered, first: int | None) -> list[Client]:
    """The first matching clients by id: an example of who would get the mailing."""
    size = sample_size(first)
    if not size:
        return []
    where, params = audience_where(audience)
    rows = await fetch(SAMPLE_IDS.format(audience=where), n=size, **params)
    return list(await Client.filter(id__in=[r["id"] for r in rows]).order_by("id"))
