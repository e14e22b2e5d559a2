"""IDs in the API are decimal database ids as strings (the contract); parsed in one place.

An id is ASCII digits only, within its column's range: `int()` would also read " 1", "1_0"
and Arabic-Indic or fullwidth digits, and an id past the column fails in the database (SQLite
takes 64 bits, PostgreSQL's `integer` 32) instead of being the client's mistake."""

from __future__ import annotations

import re

import strawberry

from models.errors import InvalidInput

MAX_ID = 2**31 - 1  # client and mailing ids: `integer` on PostgreSQL
MAX_BIG_ID = 2**63 - 1  # message ids: `bigint`
_DECIMAL = re.compile(r"0*([0-9]{1,19})")  # leading zeros aside, no more digits than 2**63


def decimal_id(value: str, maximum: int = MAX_ID) -> int | None:
    """The id `value` spells, or None unless it is ASCII digits between 1 and `maximum`."""
    match = _DECIMAL.fullmatch(value)
    if match is None:
        return None
    number = int(match.group(1))
    return number if 1 <= number <= maximum else None


def parse_id(value: strawberry.ID, field: str = "id", maximum: int = MAX_ID) -> int:
    number = decimal_id(value, maximum)
    if number is None:
        raise InvalidInput(
            f"{field} must be a decimal id (ASCII digits) between 1 and {maximum}", field=field
        )
    return number
