"""The one place that reads the wall clock; everything else gets `now` passed in."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
