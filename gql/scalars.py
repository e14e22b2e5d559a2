"""The contract's DateTime (ISO-8601 with offset) and Time ("HH:MM[:SS]") scalars."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

DateTime = NewType("DateTime", datetime)
Time = NewType("Time", time)


def _serialize_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _parse_datetime(value: object) -> datetime:
    """Naive values parse here and are rejected by domain validation, which names the field."""
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    try:
        return datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"not an ISO-8601 date-time: {value[:40]!r}") from None


def _parse_time(value: object) -> time:
    if not isinstance(value, str) or len(value) not in (5, 8):
        raise ValueError('Time must be "HH:MM" or "HH:MM:SS"')
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a valid time: {value!r}") from None


SCALARS: dict[object, ScalarDefinition] = {
    DateTime: strawberry.scalar(
        name="DateTime",
        description="An ISO-8601 date-time, e.g. 2030-05-01T09:30:00+03:00. An input must carry"
        " a UTC offset (Z or ±HH:MM): a naive one is BAD_USER_INPUT on its field. Herald"
        " answers in UTC (+00:00).",
        serialize=_serialize_datetime,
        parse_value=_parse_datetime,
    ),
    Time: strawberry.scalar(
        name="Time",
        description='A wall-clock time of day without a zone, "HH:MM" or "HH:MM:SS" (24-hour);'
        " a mailing window's times are read in each client's local time (its IANA zone)."
        " Answered as HH:MM, or HH:MM:SS when the seconds are not zero.",
        serialize=lambda v: v.isoformat(timespec="minutes" if v.second == 0 else "seconds"),
        parse_value=_parse_time,
    ),
}
