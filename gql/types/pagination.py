"""Opaque keyset cursors and the one Relay connection: `Connection[ClientType]` is
`ClientConnection` in the schema (strawberry names a generic type after its node type), with
`ClientEdge` edges, and so for every node type that is paged."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import strawberry

from gql.cost import BUDGET, MIN_PAGE_COST
from gql.ids import MAX_BIG_ID, MAX_ID, decimal_id
from models.client import PHONE_RE
from models.errors import InvalidInput
from models.mailing import EARLIEST, LATEST, MailingState
from models.pages import BY_ID, MAX_PAGE, Order, Page

# The id column each connection pages over: a cursor past its range is not one of ours.
_MAX_IDS = {
    "client": MAX_ID,
    "mailing": MAX_ID,
    "message": MAX_BIG_ID,
    "token": MAX_ID,
    "test_send": MAX_ID,
    "stats": MAX_ID,
}
# The arguments every connection takes, described once.
FIRST = (
    f"Page size: default 50, at most {MAX_PAGE} (more is served {MAX_PAGE}); negative is"
    " BAD_USER_INPUT on first."
)
AFTER = (
    "Start after this cursor (the previous page's pageInfo.endCursor); a cursor of another"
    " list or order is BAD_USER_INPUT on after. Null: the first page."
)
# Longer than any cursor we make (kind, order, a time, a state, an id): not decoded at all.
MAX_CURSOR = 256


class Row(Protocol):
    @property
    def id(self) -> int: ...


NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT", bound=Row)


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether more nodes follow this page in the same order."
    )
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor, to pass as `after` for the next page; null for an"
        " empty page."
    )


@strawberry.type(description="One node of a page, with the cursor to resume after it.")
class Edge(Generic[NodeT]):
    node: NodeT = strawberry.field(description="The node itself.")
    cursor: str = strawberry.field(
        description="An opaque keyset cursor: as `after`, the page starts just after this node."
        " Valid only for the same list and order (else BAD_USER_INPUT on `after`)."
    )


@strawberry.type(
    description="A page of nodes in the list's order (keyset: follow pageInfo.endCursor);"
    f" totalCount counts every match. `first` defaults to 50 and is capped at {MAX_PAGE}"
    f" (negative is BAD_USER_INPUT on `first`); a page counts `first` nodes (at least"
    f" {MIN_PAGE_COST}) toward the query cost limit of {BUDGET:,} nodes."
)
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(
        description="This page's nodes with their cursors, at most `first`."
    )
    page_info: PageInfo = strawberry.field(description="Where this page ends.")
    total_count: int = strawberry.field(
        description="How many nodes match the list's filters in all, across every page."
    )


def connection(kind: str, page: Page[RowT], node: Callable[[RowT], NodeT]) -> Connection[NodeT]:
    """One page of `kind` rows as a connection: each row wrapped by `node`, with the cursor
    `decode_cursor`/`decode_key` read back for the page's order."""
    edges = [Edge(node=node(row), cursor=_cursor(kind, page.order, row)) for row in page.rows]
    end = edges[-1].cursor if edges else None
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=end),
        total_count=page.total,
    )


def _cursor(kind: str, order: Order, row: RowT) -> str:
    if order == BY_ID:
        return encode_cursor(kind, row.id)
    values = [v.isoformat() if isinstance(v, datetime) else str(v) for v in order.key(row)]
    return _b64(f"{kind}:{order.name}:{json.dumps(values, separators=(',', ':'))}")


def encode_cursor(kind: str, row_id: int) -> str:
    return _b64(f"{kind}:{row_id}")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(cursor: str) -> str:
    if len(cursor) > MAX_CURSOR:
        return ""
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return ""


def _refused() -> InvalidInput:
    return InvalidInput("after is not a cursor from this connection and order", field="after")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The id after which the page starts; anything `encode_cursor(kind, …)` could not have
    made (another connection's cursor, a non-ASCII or out-of-range id) is BAD_USER_INPUT."""
    if cursor is None:
        return None
    prefix, _, value = _unb64(cursor).partition(":")
    row_id = decimal_id(value, _MAX_IDS[kind]) if prefix == kind else None
    if row_id is None:
        raise _refused()
    return row_id


def decode_key(kind: str, order: Order, cursor: str | None) -> tuple[Any, ...] | None:
    """The sort key (the order's columns, the unique one last) after which the page
    starts. A cursor of another connection or another order, or with any value its column
    could not hold (a naive or out-of-range time, an unknown state, a malformed phone, an id
    out of range), is BAD_USER_INPUT: none of it reaches the database."""
    if cursor is None or order == BY_ID:
        return None if cursor is None else (decode_cursor(kind, cursor),)
    head = f"{kind}:{order.name}:"
    raw = _unb64(cursor)
    try:
        values = json.loads(raw[len(head) :]) if raw.startswith(head) else None
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != len(order.columns):
        raise _refused()
    if not all(isinstance(v, str) for v in values):
        raise _refused()
    key = [
        decimal_id(value, _MAX_IDS[kind]) if column == "id" else _KEY_PARSERS[column](value)
        for column, value in zip(order.columns, values, strict=True)
    ]
    if any(value is None for value in key):
        raise _refused()
    return tuple(key)


def _instant(value: str) -> datetime | None:
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    if instant.utcoffset() is None or not EARLIEST <= instant <= LATEST:
        return None
    return instant.astimezone(UTC)


def _state(value: str) -> MailingState | None:
    try:
        return MailingState(value)
    except ValueError:
        return None


def _phone(value: str) -> str | None:
    return value if PHONE_RE.fullmatch(value) else None


_KEY_PARSERS: dict[str, Callable[[str], Any]] = {
    "created_at": _instant,
    "start_at": _instant,
    "state": _state,
    "phone": _phone,
}
