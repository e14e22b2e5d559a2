"""Ids and cursors as tables: ASCII digits within the id column's range, nothing else."""

from __future__ import annotations

import base64

import pytest
import strawberry

from gql.ids import parse_id
from gql.types.pagination import decode_cursor, encode_cursor
from models.errors import InvalidInput

MAX_ID = 2**31 - 1  # client and mailing ids: PostgreSQL `integer`
MAX_BIG_ID = 2**63 - 1  # message ids: `bigint`, and SQLite's integer

IDS = [
    ("1", 1),
    ("42", 42),
    ("007", 7),
    (str(MAX_ID), MAX_ID),
    (str(MAX_ID + 1), None),
    ("0", None),
    ("-1", None),
    ("+1", None),
    (" 1", None),
    ("1 ", None),
    ("1\n", None),
    ("1_0", None),
    ("\u0661", None),  # ARABIC-INDIC DIGIT ONE: int() reads 1
    ("\uff11\uff10", None),  # FULLWIDTH 1 0: int() reads 10
    ("1.0", None),
    ("1e3", None),
    ("0x10", None),
    ("", None),
    ("9" * 5000, None),
    ("0" * 30 + "1", 1),
]


@pytest.mark.parametrize("raw,expected", IDS)
def test_parse_id(raw: str, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInput) as caught:
            parse_id(strawberry.ID(raw), "mailingId")
        assert caught.value.field == "mailingId"
    else:
        assert parse_id(strawberry.ID(raw)) == expected


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


CURSORS = [
    ("client", encode_cursor("client", 7), 7),
    ("client", encode_cursor("client", MAX_ID), MAX_ID),
    ("message", encode_cursor("message", MAX_BIG_ID), MAX_BIG_ID),
    ("message", encode_cursor("message", MAX_ID + 1), MAX_ID + 1),
    ("client", encode_cursor("client", MAX_ID + 1), None),  # past PostgreSQL's integer
    ("mailing", encode_cursor("mailing", MAX_ID + 1), None),
    ("message", encode_cursor("message", MAX_BIG_ID + 1), None),  # past bigint / SQLite
    ("client", encode_cursor("mailing", 7), None),  # another connection's cursor
    ("client", raw_cursor("client: 7"), None),
    ("client", raw_cursor("client:1_0"), None),
    ("client", raw_cursor("client:\u0667"), None),
    ("client", raw_cursor("client:-7"), None),
    ("client", raw_cursor("client:0"), None),
    ("client", raw_cursor("client:"), None),
    ("client", "garbage!", None),
    ("client", "", None),
]


@pytest.mark.parametrize("kind,cursor,expected", CURSORS)
def test_decode_cursor(kind: str, cursor: str, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInput) as caught:
            decode_cursor(kind, cursor)
        assert caught.value.field == "after"
    else:
        assert decode_cursor(kind, cursor) == expected
