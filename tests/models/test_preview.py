"""The audience preview (models/preview.py) at fixed instants: it counts exactly whom the
fan-out would select, and a window's reach per zone is DST-exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.audience import fan_out
from models.client import Client
from models.errors import InvalidInput
from models.mailing import AudienceFilter, Mailing, MailingState, Window
from models.message import Message
from models.preview import Period, openings, preview, validate_preview_period

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
CLIENTS = [
    ("79160000001", "916", "vip", "Europe/Moscow"),
    ("79160000002", "916", None, "Asia/Tokyo"),
    ("79030000003", "903", "vip", "UTC"),
    ("79030000004", "903", "new", "UTC"),
    ("79250000005", "925", "new", "Europe/Moscow"),
]
H = 3600


@pytest.mark.parametrize(
    ("codes", "tags"),
    [([], []), (["916"], []), (["916", "925"], []), ([], ["vip", "new"]), (["903"], ["new"])],
)
async def test_preview_counts_whom_the_fan_out_selects(
    database: str, codes: list[str], tags: list[str]
) -> None:
    for phone, code, tag, zone in CLIENTS:
        await Client.create(phone=phone, operator_code=code, tag=tag, timezone=zone)
    result = await preview(AudienceFilter(tuple(codes), tuple(tags)), None, NOW)
    mailing = await Mailing.create(
        text="t",
        start_at=NOW,
        end_at=NOW + timedelta(days=1),
        operator_codes=codes,
        tags=tags,
        state=MailingState.RUNNING,
    )
    await fan_out(mailing, NOW)
    rows = await Message.filter(mailing_id=mailing.id).values_list("timezone", flat=True)
    zones = [str(zone) for zone in rows]
    assert result.count == len(zones)
    assert {z.zone: z.count for z in result.zones} == {z: zones.count(z) for z in set(zones)}
    assert result.reachable is None


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# now, window (local seconds), start, end, zone, expected first opening (None: not before end)
CASES = [
    # New York spring-forward day (2030-03-10): 02:30 does not exist, the window opens at
    # the jump, 03:00 EDT = 07:00Z.
    (
        "2030-03-10T05:00Z",
        (2 * H + 1800, 3 * H + 1800),
        "2030-03-10T05:00Z",
        "2030-03-10T08:00Z",
        "America/New_York",
        "2030-03-10T07:00Z",
    ),
    # Fall-back day (2030-11-03): 01:30 comes twice; the first (EDT, 05:30Z) opens it.
    (
        "2030-11-03T04:00Z",
        (H + 1800, 2 * H),
        "2030-11-03T04:00Z",
        "2030-11-03T08:00Z",
        "America/New_York",
        "2030-11-03T05:30Z",
    ),
    # Already open at the start: opens at the start itself.
    (
        "2030-01-01T12:00Z",
        (9 * H, 21 * H),
        "2030-01-01T12:00Z",
        "2030-01-01T13:00Z",
        "Europe/Moscow",
        "2030-01-01T12:00Z",
    ),
    # A start in the past means now.
    (
        "2030-01-01T12:00Z",
        (9 * H, 21 * H),
        "2029-12-31T00:00Z",
        "2030-01-01T13:00Z",
        "Europe/Moscow",
        "2030-01-01T12:00Z",
    ),
    # Opens exactly at the end: too late ([start, end) of the mailing).
    (
        "2030-01-01T12:00Z",
        (18 * H, 19 * H),
        "2030-01-01T12:00Z",
        "2030-01-01T15:00Z",
        "Europe/Moscow",
        None,
    ),
    # Midnight-wrapping window, Tokyo 21:00 → opens 22:00 local = 13:00Z.
    (
        "2030-01-01T12:00Z",
        (22 * H, 6 * H),
        "2030-01-01T12:00Z",
        "2030-01-02T00:00Z",
        "Asia/Tokyo",
        "2030-01-01T13:00Z",
    ),
]


@pytest.mark.parametrize("now,window,start,end,zone,expected", CASES)
def test_openings_per_zone(
    now: str, window: tuple[int, int], start: str, end: str, zone: str, expected: str | None
) -> None:
    period = Period(Window(*window), _at(start), _at(end))
    assert openings(period, _at(now), [zone]) == {zone: _at(expected) if expected else None}


def test_a_window_needs_an_end() -> None:
    with pytest.raises(InvalidInput) as error:
        validate_preview_period(Window(0, H), None, None, NOW)
    assert error.value.field == "endAt"
    assert validate_preview_period(None, None, None, NOW) is None
    assert validate_preview_period(None, None, NOW + timedelta(hours=1), NOW) is None
    period = validate_preview_period(Window(0, H), None, NOW + timedelta(hours=1), NOW)
    assert period == Period(Window(0, H), NOW, NOW + timedelta(hours=1))
