"""The export's reads and cells (models/export.py) on SQLite and PostgreSQL: pages of at most the
page size, each read only when the previous one is consumed; formula-safe cells; UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from models.export import MESSAGES_AFTER, message_pages, messages_csv, safe_cell, utc_iso
from models.mailing import Mailing
from models.message import Message
from models.sql import fetch

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Counted:
    """models.sql.fetch, recording how many rows each query returned."""

    def __init__(self) -> None:
        self.rows: list[int] = []

    async def __call__(self, sql: str, /, **params: Any) -> list[dict[str, Any]]:
        assert sql == MESSAGES_AFTER
        rows = await fetch(sql, **params)
        self.rows.append(len(rows))
        return rows


async def _mailing_with(n: int) -> int:
    mailing = await Mailing.create(text="t", start_at=NOW, end_at=NOW + timedelta(days=1))
    await Message.bulk_create(
        [Message(mailing_id=mailing.id, phone=f"7916{i:07d}", timezone="UTC") for i in range(n)]
    )
    return mailing.id


async def test_pages_hold_at_most_the_page_size_and_are_read_one_at_a_time(
    database: str,
) -> None:
    mid = await _mailing_with(7)
    await _mailing_with(5)  # another mailing's messages are not read
    read = Counted()
    pages = message_pages(mid, 3, read)
    first = await anext(pages)
    assert read.rows == [3] and len(first) == 3  # one query so far: nothing read ahead
    rest = [page async for page in pages]
    assert read.rows == [3, 3, 1] and [len(p) for p in rest] == [3, 1]
    ids = [row["id"] for page in [first, *rest] for row in page]
    assert ids == sorted(ids) and len(set(ids)) == 7


async def test_an_exact_multiple_ends_with_one_empty_query(database: str) -> None:
    mid = await _mailing_with(4)
    read = Counted()
    chunks = [chunk async for chunk in messages_csv(mid, 2, read)]
    assert read.rows == [2, 2, 0]
    assert len(chunks) == 3  # the header, then one chunk per page
    assert sum(chunk.count("\r\n") for chunk in chunks) == 5


@pytest.mark.parametrize(
    "value,cell",
    [
        ("=1+2", "'=1+2"),
        ("+7916", "'+7916"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("HTTP 500", "HTTP 500"),
        ("a=b", "a=b"),
        ("'quoted", "'quoted"),
        (None, ""),
        (8, "8"),
        ("", ""),
    ],
)
def test_cells_that_would_start_a_formula_get_a_quote(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


@pytest.mark.parametrize(
    "value,text",
    [
        (
            datetime(2030, 5, 1, 12, 30, 15, 250_000, tzinfo=timezone(timedelta(hours=3))),
            "2030-05-01T09:30:15.250Z",
        ),
        (datetime(2030, 5, 1, 9, 30), "2030-05-01T09:30:00.000Z"),
        ("2030-05-01 09:30:15.123456+00:00", "2030-05-01T09:30:15.123Z"),
        (None, ""),
    ],
)
def test_times_are_iso_8601_utc(value: datetime | str | None, text: str) -> None:
    assert utc_iso(value) == text
