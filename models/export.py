"""CSV exports of one mailing: its messages, read in keyset pages so that memory holds one page
whatever the mailing's size, and its counts per status. Every cell is written so that a
spreadsheet cannot take it for a formula (CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from models.sql import fetch
from models.stats import counts_for_mailings

EXPORT_PAGE = 5_000  # messages per query (EXPORT_PAGE_SIZE): ~1 MB of rows in memory at most
MESSAGE_COLUMNS = ("id", "phone", "status", "attempts", "created_at", "sent_at", "last_error")
STATS_COLUMNS = ("status", "count")
# The next page after the last id sent: no OFFSET, so page 200 costs what page 1 does.
MESSAGES_AFTER = (
    "SELECT id, phone, status, attempts, created_at, sent_at, last_error FROM message"
    " WHERE mailing_id = :mailing_id AND id > :after ORDER BY id LIMIT :size"
)
# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice and
# Google Sheets; OWASP's list, with tab and carriage return.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Read(Protocol):
    """models.sql.fetch, or a test's wrapper around it that counts the rows of each query."""

    def __call__(self, sql: str, /, **params: Any) -> Awaitable[list[dict[str, Any]]]: ...


def safe_cell(value: object) -> str:
    """The cell as text, with a leading `'` when it would start a formula: `=HYPERLINK(…)` in
    a probe's error message must reach the report as text, not run in it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def utc_iso(value: datetime | str | None) -> str:
    """ISO 8601 in UTC with milliseconds and `Z`. Raw SQL returns what each database stores:
    a datetime from PostgreSQL, tortoise's `isoformat(" ")` text from SQLite."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """RFC 4180 lines (CRLF, quoted where needed), every cell through `safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return out.getvalue()


async def message_pages(
    mailing_id: int, size: int = EXPORT_PAGE, read: Read = fetch
) -> AsyncIterator[list[dict[str, Any]]]:
    """The mailing's messages in id order, `size` per query; the next query runs only once
    the previous page has been consumed (a slow download reads slowly). Not a snapshot: each
    page shows its messages as they are when it is read, and no transaction is held open
    for as long as the client takes."""
    after = 0
    while True:
        rows = await read(MESSAGES_AFTER, mailing_id=mailing_id, after=after, size=size)
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = int(rows[-1]["id"])


def _message_row(row: dict[str, Any]) -> tuple[object, ...]:
    return (
        row["id"],
        row["phone"],
        row["status"],
        row["attempts"],
        utc_iso(row["created_at"]),
        utc_iso(row["sent_at"]),
        row["last_error"],
    )


async def messages_csv(
    mailing_id: int, size: int = EXPORT_PAGE, read: Read = fetch
) -> AsyncIterator[str]:
    """The header, then one chunk of CSV per page of messages."""
    yield csv_text([MESSAGE_COLUMNS])
    async for rows in message_pages(mailing_id, size, read):
        yield csv_text(_message_row(row) for row in rows)


async def stats_csv(mailing_id: int) -> AsyncIterator[str]:
    """`status,count`, one line per message status, zeros included, from the counters the
    statistics read (test sends are not messages and are not counted)."""
    counts = (await counts_for_mailings([mailing_id]))[mailing_id]
    yield csv_text([STATS_COLUMNS, *((s.value, n) for s, n in counts.by_status.items())])
