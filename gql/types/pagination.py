"""Opaque keyset cursors and the Relay PageInfo."""

from __future__ import annotations

import base64
import binascii

import strawberry

from gql.ids import MAX_BIG_ID, MAX_ID, decimal_id
from models.errors import InvalidInput

# The id column each connection pages over: a cursor past its range is not one of ours.
_MAX_IDS = {"client": MAX_ID, "mailing": MAX_ID, "message": MAX_BIG_ID}


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def encode_cursor(kind: str, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The id after which the page starts; anything `encode_cursor(kind, …)` could not have
    made (another connection's cursor, a non-ASCII or out-of-range id) is BAD_USER_INPUT."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raw = ""
    prefix, _, value = raw.partition(":")
    row_id = decimal_id(value, _MAX_IDS[kind]) if prefix == kind else None
    if row_id is None:
        raise InvalidInput("after is not a cursor from this connection", field="after")
    return row_id
