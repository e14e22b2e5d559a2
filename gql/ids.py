"""IDs in the API are decimal database ids as strings (the contract); parsed in one place."""

from __future__ import annotations

import strawberry

from models.errors import InvalidInput

MAX_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL: a larger one is unknown, not a 500


def parse_id(value: strawberry.ID, field: str = "id") -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a decimal id", field=field) from None
    if number <= 0 or number > MAX_ID:
        raise InvalidInput(f"{field} must be between 1 and {MAX_ID}", field=field)
    return number
